package lifecycle

import (
	"fmt"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer"
)

// Score implements the worker's Scorer: the decider (the champion, or in
// split mode the challenger for its share of cards) scores ev into vd, and
// the other served model's result goes into vd.Shadow. vd's model and
// policy versions name the decider before anything can fail. A failure of
// the other model is counted and the decider's verdict returned without it;
// a challenger that fails to decide its share leaves the decision to the
// champion. The decider's reasons (FRAUDSCORE_REASONS) are counted per
// code. When an analyst rule set serves (ADR 0016) it is applied last, to
// the decider's result and the challenger's shadow result, and may change
// vd.Decision (vd.Rule names the rule that did; vd.RulesVersion the set).
// With FRAUDSCORE_VERDICT_FEATURES=true vd.Features holds the feature values
// the decider saw, in its feature order (a shadow result carries none);
// otherwise it is empty.
// vd.Shadow's, vd.Reasons', vd.ReasonDetails' and vd.Features' backing
// arrays are reused: Score does not allocate once they have room (rules add
// what their evaluation boxes, see scorer/rules).
func (l *Lifecycle) Score(ev *contracts.TransactionEvent, vd *contracts.Verdict) error {
	s := l.cur.Load()
	if s == nil {
		return scorer.ErrNoModel
	}
	vd.Shadow = vd.Shadow[:0]
	vd.Features = vd.Features[:0]
	vd.Rule, vd.RulesVersion = "", ""
	rs := l.rules.Load()
	w := l.startRules(rs)
	champ, chall := s.champion, s.challenger
	if chall != nil && l.split != 0 && CardHash(ev.CardToken)>>11 < l.split {
		if l.tryDecide(chall, ev, vd, w) {
			var sr contracts.ShadowResult
			if l.tryShadow(champ, ev, &sr) {
				vd.Shadow = append(vd.Shadow, sr)
				s.decisions[sr.Decision.Index()][vd.Decision.Index()].Inc()
			}
			if rs != nil {
				l.applyRules(rs, w, ev, vd, nil) // the challenger decided: none in shadow
			}
			return nil
		}
		chall = nil // the champion decides this one
	}
	if err := l.decide(champ, ev, vd, w); err != nil {
		l.putRules(w)
		return err
	}
	var inShadow *contracts.ShadowResult
	if chall != nil {
		var sr contracts.ShadowResult
		if l.tryShadow(chall, ev, &sr) {
			vd.Shadow = append(vd.Shadow, sr)
			s.decisions[vd.Decision.Index()][sr.Decision.Index()].Inc()
			inShadow = &vd.Shadow[len(vd.Shadow)-1]
		}
	}
	if rs != nil {
		l.applyRules(rs, w, ev, vd, inShadow)
	}
	return nil
}

// decide scores ev into vd with m; w (may be nil) takes the row when the
// rules read features.
func (l *Lifecycle) decide(m *model, ev *contracts.TransactionEvent, vd *contracts.Verdict, w *ruleWork) error {
	if l.hook != nil {
		vd.ModelVersion = m.version
		vd.PolicyVersion = m.sc.Policy().Version
		if err := l.hook(m.version); err != nil {
			return err
		}
	}
	if err := m.sc.ScoreObserved(ev, vd, w.observer(m)); err != nil {
		return err
	}
	m.score.Observe(vd.Score)
	m.countReasons(vd)
	return nil
}

// tryDecide is decide for a challenger deciding its share: a failure or
// panic is counted and reported as false.
func (l *Lifecycle) tryDecide(m *model, ev *contracts.TransactionEvent, vd *contracts.Verdict, w *ruleWork) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			l.failedBeside(m, ev, fmt.Errorf("panic: %v", r))
			ok = false
		}
	}()
	if err := l.decide(m, ev, vd, w); err != nil {
		l.failedBeside(m, ev, err)
		return false
	}
	return true
}

// tryShadow scores ev with m, the model that does not decide, into sr. A
// failure or panic is counted and reported as false.
func (l *Lifecycle) tryShadow(m *model, ev *contracts.TransactionEvent, sr *contracts.ShadowResult) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			l.failedBeside(m, ev, fmt.Errorf("panic: %v", r))
			ok = false
		}
	}()
	if l.hook != nil {
		if err := l.hook(m.version); err != nil {
			l.failedBeside(m, ev, err)
			return false
		}
	}
	if err := m.sc.ScoreShadow(ev, sr, m.drift); err != nil {
		l.failedBeside(m, ev, err)
		return false
	}
	m.score.Observe(sr.Score)
	return true
}

// failedBeside counts a failure of a model beside the decider and logs the
// first one of its version.
func (l *Lifecycle) failedBeside(m *model, ev *contracts.TransactionEvent, err error) {
	m.errs.Inc()
	if m.failed.CompareAndSwap(false, true) {
		l.log.Error("model beside the decider failed; the decider's verdict stands (logged once per version)",
			"model_version", m.version, "transaction_id", ev.TransactionID, "err", err)
	}
}
