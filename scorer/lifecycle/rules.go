package lifecycle

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

// Analyst rule modes (FRAUDSCORE_RULES, ADR 0016).
const (
	// RulesAuto applies the set POLICY_DIR/latest names when the link
	// exists, and no rules otherwise.
	RulesAuto = "auto"
	// RulesOn is auto with the link required at start.
	RulesOn = "on"
	// RulesOff never reads the policy directory.
	RulesOff = "off"
)

// ruleMetrics are the analyst rules' Prometheus metrics.
type ruleMetrics struct {
	info        *prometheus.GaugeVec   // fraudscore_rule_set_info{rules_version}
	loadFailure prometheus.Counter     // fraudscore_rule_set_load_failures_total
	decisions   *prometheus.CounterVec // fraudscore_rule_decisions_total{rule,action}
	errors      *prometheus.CounterVec // fraudscore_rule_errors_total{rule}
}

func newRuleMetrics(reg prometheus.Registerer) *ruleMetrics {
	m := &ruleMetrics{
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fraudscore_rule_set_info", Help: "1 for the analyst rule set in use (policies/latest), absent without one.",
		}, []string{"rules_version"}),
		loadFailure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudscore_rule_set_load_failures_total", Help: "Analyst rule sets refused at load or reload (parse, unknown name, type, cost, action, examples); the previous set keeps serving.",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_rule_decisions_total", Help: "Verdicts an analyst rule decided (it changed the model's decision), by rule and action (every rule of a set created at 0 when it loads).",
		}, []string{"rule", "action"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_rule_errors_total", Help: "Evaluations of an analyst rule that failed at run time (the rule did not match).",
		}, []string{"rule"}),
	}
	reg.MustRegister(m.info, m.loadFailure, m.decisions, m.errors)
	return m
}

// ruleSet is a served rule set with its metric children.
type ruleSet struct {
	set       *rules.Set
	decisions []prometheus.Counter // by rule index
	errs      []prometheus.Counter // by rule index
	failed    []atomic.Bool        // first failure of the rule logged
	log       func(rule int, err error)
	features  bool // some rule reads features.<name>
}

// RuleFailed implements rules.ErrorObserver: counted, logged once per rule.
func (r *ruleSet) RuleFailed(rule int, err error) {
	r.errs[rule].Inc()
	if r.failed[rule].CompareAndSwap(false, true) {
		r.log(rule, err)
	}
}

func (l *Lifecycle) newRuleSet(set *rules.Set) *ruleSet {
	n := set.Len()
	r := &ruleSet{set: set, decisions: make([]prometheus.Counter, n), errs: make([]prometheus.Counter, n),
		failed: make([]atomic.Bool, n), features: set.UsesFeatures()}
	for i := range n {
		ru := set.Rule(i)
		r.decisions[i] = l.rm.decisions.WithLabelValues(ru.Name, ru.Action.String())
		r.errs[i] = l.rm.errors.WithLabelValues(ru.Name)
	}
	r.log = func(rule int, err error) {
		l.log.Error("analyst rule failed at evaluation; it did not match (logged once per rule and set)",
			"rules_version", set.Version(), "rule", set.Rule(rule).Name, "err", err)
	}
	return r
}

// refreshRules reads the policy latest link and loads the set when it
// moved (or when force), keeping the current set when the new one is
// refused. The caller holds l.mu.
func (l *Lifecycle) refreshRules(force bool) {
	if l.cfg.Rules == RulesOff {
		return
	}
	cur := l.rules.Load()
	v, err := l.policies.Latest()
	if errors.Is(err, rules.ErrNoLatest) {
		l.rulesRefused = ""
		if cur != nil && l.cfg.Rules == RulesAuto {
			l.log.Info("rule set link removed: the model decides alone", "rules_version", cur.set.Version())
			l.rules.Store(nil)
			l.retire(cur, nil)
		}
		return
	}
	target := v
	if err != nil {
		target = "error: " + err.Error()
	}
	if !force && (cur != nil && target == cur.set.Version() || target == l.rulesRefused) {
		return
	}
	if err == nil {
		var set *rules.Set
		if set, err = l.policies.Load(v); err == nil {
			l.rulesRefused = ""
			l.rules.Store(l.newRuleSet(set))
			if cur != nil {
				l.retire(cur, set)
			}
			l.rm.info.WithLabelValues(set.Version()).Set(1)
			l.log.Info("rule set loaded", "rules_version", set.Version(), "rules", set.Len())
			l.rulesErr.Store(nil)
			l.markReady()
			return
		}
	}
	l.rm.loadFailure.Inc()
	l.rulesRefused = target
	msg := err.Error()
	l.rulesErr.Store(&msg)
	current := ""
	if cur != nil {
		current = cur.set.Version()
	}
	l.log.Error("rule set refused; keeping the current one", "current_rules_version", current, "err", err)
}

// retire removes the series of the set old that next (nil: none) does not
// have: its info, and the decision and error counters of its rules that
// are gone, so that the rules of replaced sets do not pile up.
func (l *Lifecycle) retire(old *ruleSet, next *rules.Set) {
	if next == nil || next.Version() != old.set.Version() {
		l.rm.info.DeleteLabelValues(old.set.Version())
	}
	kept, keptNames := map[[2]string]bool{}, map[string]bool{}
	if next != nil {
		for i := range next.Len() {
			r := next.Rule(i)
			kept[[2]string{r.Name, r.Action.String()}], keptNames[r.Name] = true, true
		}
	}
	for i := range old.set.Len() {
		r := old.set.Rule(i)
		if !kept[[2]string{r.Name, r.Action.String()}] {
			l.rm.decisions.DeleteLabelValues(r.Name, r.Action.String())
		}
		if !keptNames[r.Name] {
			l.rm.errors.DeleteLabelValues(r.Name)
		}
	}
}

// rulesReady is nil unless FRAUDSCORE_RULES=on and no rule set serves.
func (l *Lifecycle) rulesReady() error {
	if l.cfg.Rules != RulesOn || l.rules.Load() != nil {
		return nil
	}
	if p := l.rulesErr.Load(); p != nil {
		return fmt.Errorf("no rule set (FRAUDSCORE_RULES=on): %s", *p)
	}
	return errors.New("no rule set loaded (FRAUDSCORE_RULES=on)")
}

// RulesVersion returns the rule set in use, "" when none.
func (l *Lifecycle) RulesVersion() string {
	if r := l.rules.Load(); r != nil {
		return r.set.Version()
	}
	return ""
}

// ruleWork is one Score call's rule input, pooled: the Input and the
// deciding model's feature row copied by canonical index (it observes the
// row on its way to the drift window).
type ruleWork struct {
	in       rules.Input
	features [features.Count]float64
	index    []int // row position -> canonical feature index, the decider's
	drift    scorer.RowObserver
	// useFeatures: the set reads features, so the row is copied.
	useFeatures bool
	saw         bool
}

// Observe implements scorer.RowObserver: it copies the row and passes it
// on to the drift window.
func (w *ruleWork) Observe(row []float64, score float64) {
	rules.CopyFeatures(&w.features, w.index, row)
	w.saw = true
	if w.drift != nil {
		w.drift.Observe(row, score)
	}
}

// observer returns what m should report its row to: w when the rules read
// features, m's drift window otherwise.
func (w *ruleWork) observer(m *model) scorer.RowObserver {
	if w == nil || !w.useFeatures {
		return m.drift
	}
	w.index, w.drift = m.featureIndex, m.drift
	return w
}

// startRules returns the rule work of one Score call under r, nil when
// no set serves.
func (l *Lifecycle) startRules(r *ruleSet) *ruleWork {
	if r == nil {
		return nil
	}
	w, _ := l.ruleWork.Get().(*ruleWork)
	if w == nil {
		w = new(ruleWork)
	}
	w.useFeatures, w.saw = r.features, false
	return w
}

// applyRules applies r to the verdict the decider wrote into vd, then
// returns w to the pool. challenger is the challenger's shadow result, nil
// when it did not score in shadow.
func (l *Lifecycle) applyRules(r *ruleSet, w *ruleWork, ev *contracts.TransactionEvent, vd *contracts.Verdict, challenger *contracts.ShadowResult) {
	in := &w.in
	in.Features = nil
	if w.saw {
		in.Features = &w.features
	}
	in.Event, in.Score, in.Decision, in.ModelVersion = ev, vd.Score, vd.Decision, vd.ModelVersion
	in.Reasons, in.Challenger = vd.Reasons, challenger
	out := r.set.Evaluate(in, r)
	vd.RulesVersion = r.set.Version()
	if out.Rule >= 0 {
		vd.Decision, vd.Rule = out.Decision, out.RuleName
		r.decisions[out.Rule].Inc()
	}
	l.putRules(w)
}

// putRules returns w (may be nil) to the pool.
func (l *Lifecycle) putRules(w *ruleWork) {
	if w == nil {
		return
	}
	w.in = rules.Input{}
	w.drift, w.index = nil, nil
	l.ruleWork.Put(w)
}
