package scorer

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// ErrNoModel is returned when no model is loaded.
var ErrNoModel = errors.New("scorer: no model loaded")

// Options configure a Scorer.
type Options struct {
	// Review and Decline override the model's thresholds when both are > 0.
	Review, Decline float64
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Scorer scores events with the current model version. It is safe for
// concurrent use; Swap replaces the model without stopping scoring.
type Scorer struct {
	opts Options
	cur  atomic.Pointer[active]
}

type active struct {
	loaded *modelstore.Loaded
	policy Policy
	vecs   sync.Pool // *[]float64 of the model's length
}

// New returns a scorer serving l.
func New(l *modelstore.Loaded, opts Options) (*Scorer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Scorer{opts: opts}
	if err := s.Swap(l); err != nil {
		return nil, err
	}
	return s, nil
}

// Swap makes l the model in use, with its own thresholds unless overridden.
func (s *Scorer) Swap(l *modelstore.Loaded) error {
	if l == nil {
		return ErrNoModel
	}
	var (
		p   Policy
		err error
	)
	if s.opts.Review > 0 && s.opts.Decline > 0 {
		p, err = NewPolicy(OverrideVersion(s.opts.Review, s.opts.Decline), s.opts.Review, s.opts.Decline)
	} else {
		p, err = NewPolicy(l.Version+"/model", l.Meta.Thresholds.Review, l.Meta.Thresholds.Decline)
	}
	if err != nil {
		return err
	}
	n := l.Extractor.Len()
	a := &active{loaded: l, policy: p}
	a.vecs.New = func() any { v := make([]float64, n); return &v }
	s.cur.Store(a)
	return nil
}

// Model returns the model version in use.
func (s *Scorer) Model() *modelstore.Loaded {
	if a := s.cur.Load(); a != nil {
		return a.loaded
	}
	return nil
}

// Policy returns the policy in use.
func (s *Scorer) Policy() Policy { return s.cur.Load().policy }

// RowObserver receives the feature row and score of every event a Scorer
// scores (the drift windows). row is only valid during the call: it returns
// to a pool afterwards. Observe must not allocate and must be safe for
// concurrent use.
type RowObserver interface {
	Observe(row []float64, score float64)
}

// Score scores ev (already validated) into vd. vd's Reasons slice is reused
// and its Shadow is left alone. It does not allocate.
func (s *Scorer) Score(ev *contracts.TransactionEvent, vd *contracts.Verdict) error {
	return s.ScoreObserved(ev, vd, nil)
}

// ScoreObserved is Score that also hands the feature row and the score to
// obs (when not nil) before the row returns to its pool. vd's model and
// policy versions are set before anything can fail, so an error is counted
// under the version that failed. It does not allocate.
func (s *Scorer) ScoreObserved(ev *contracts.TransactionEvent, vd *contracts.Verdict, obs RowObserver) error {
	a := s.cur.Load()
	if a == nil {
		return ErrNoModel
	}
	vd.ModelVersion = a.loaded.Version
	vd.PolicyVersion = a.policy.Version
	start := s.opts.Now()
	p, err := a.predict(ev, obs)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	vd.SchemaVersion = contracts.VerdictSchemaV1
	vd.TransactionID = ev.TransactionID
	vd.Score = p
	vd.Decision = a.policy.Decide(p)
	vd.Reasons = vd.Reasons[:0]
	vd.ScoredAt = now.UTC()
	vd.ScoringMicros = now.Sub(start).Microseconds()
	return nil
}

// ScoreShadow scores ev into sr, the result of a model that scores without
// deciding (contracts.Verdict.Shadow), handing the row and score to obs as
// ScoreObserved does. sr's versions are set before anything can fail. It
// does not allocate.
func (s *Scorer) ScoreShadow(ev *contracts.TransactionEvent, sr *contracts.ShadowResult, obs RowObserver) error {
	a := s.cur.Load()
	if a == nil {
		return ErrNoModel
	}
	sr.ModelVersion = a.loaded.Version
	sr.PolicyVersion = a.policy.Version
	p, err := a.predict(ev, obs)
	if err != nil {
		return err
	}
	sr.Score = p
	sr.Decision = a.policy.Decide(p)
	return nil
}

// predict extracts ev's features into a pooled row and predicts.
func (a *active) predict(ev *contracts.TransactionEvent, obs RowObserver) (float64, error) {
	vp := a.vecs.Get().(*[]float64)
	defer a.vecs.Put(vp)
	if err := a.loaded.Extractor.Extract(ev, *vp); err != nil {
		return 0, fmt.Errorf("scorer: %w", err)
	}
	p, err := a.loaded.Model.Predict(*vp)
	if err != nil {
		return 0, fmt.Errorf("scorer: predict with %s: %w", a.loaded.Version, err)
	}
	if obs != nil {
		obs.Observe(*vp, p)
	}
	return p, nil
}
