package lifecycle

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

// model is one served version with what scoring it needs.
type model struct {
	version string
	loaded  *modelstore.Loaded
	sc      *scorer.Scorer
	drift   scorer.RowObserver // nil without a window
	score   prometheus.Observer
	errs    prometheus.Counter
	// reasons counts the reason codes the version gave, by code (every
	// code of its table, created at 0); nil when it gives none.
	reasons map[string]prometheus.Counter
	// failed is set when the version's first failure beside the decider
	// was logged: later ones are only counted.
	failed atomic.Bool
	// featureIndex maps the version's feature row to canonical feature
	// indexes (for the rules' features.<name>).
	featureIndex []int
}

// newModel builds the scorer, metric children and drift window of a
// loaded version.
func (l *Lifecycle) newModel(loaded *modelstore.Loaded) (*model, error) {
	sc, err := scorer.New(loaded, scorer.Options{Review: l.cfg.ReviewThreshold, Decline: l.cfg.DeclineThreshold, Now: l.opts.Now,
		Reasons: l.cfg.Reasons, ReasonsTop: l.cfg.ReasonsTop, Features: l.cfg.VerdictFeatures})
	if err != nil {
		return nil, err
	}
	m := &model{version: loaded.Version, loaded: loaded, sc: sc,
		score: l.m.score.WithLabelValues(loaded.Version), errs: l.m.errors.WithLabelValues(loaded.Version),
		featureIndex: rules.FeatureIndex(loaded.Meta.Features)}
	l.reasonsStep(m)
	if l.opts.Drift != nil {
		obs, err := l.opts.Drift.Start(loaded)
		if err != nil {
			l.log.Warn("no drift window for this model version", "model_version", loaded.Version, "err", err)
		} else {
			m.drift = obs
		}
	}
	return m, nil
}

// reasonsStep prepares the counting of m's reason codes, or says once, at
// load, why its verdicts carry none (no reason table, no node covers).
func (l *Lifecycle) reasonsStep(m *model) {
	unavailable := m.sc.ReasonsUnavailable()
	if unavailable != nil {
		l.m.reasonsAvailable.WithLabelValues(m.version).Set(0)
		if l.cfg.Reasons != scorer.ReasonsOff {
			l.log.Warn("model version gives no reason codes: its verdicts carry none", "model_version", m.version, "err", unavailable)
		}
		return
	}
	l.m.reasonsAvailable.WithLabelValues(m.version).Set(1)
	if l.cfg.Reasons == scorer.ReasonsOff {
		return
	}
	m.reasons = make(map[string]prometheus.Counter)
	for _, code := range m.loaded.Reasons.Codes() {
		m.reasons[code] = l.m.reasons.WithLabelValues(m.version, code)
	}
}

// countReasons counts the reason codes of a verdict m decided.
func (m *model) countReasons(vd *contracts.Verdict) {
	for _, code := range vd.Reasons {
		if c := m.reasons[code]; c != nil {
			c.Inc()
		}
	}
}
