package scorer

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/features"
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
	// Reasons is which verdicts carry reason codes: ReasonsFlagged,
	// ReasonsAll or ReasonsOff ("" is off).
	Reasons string
	// ReasonsTop is the most reason codes a verdict carries (0: none).
	ReasonsTop int
	// Features makes Score put the feature values the model saw, in its
	// feature order, into the verdict (contracts.Verdict.Features).
	Features bool
}

// Scorer scores events with the current model version. It is safe for
// concurrent use; Swap replaces the model without stopping scoring.
type Scorer struct {
	opts Options
	cur  atomic.Pointer[active]
}

type active struct {
	loaded  *modelstore.Loaded
	policy  Policy
	reasons reasons
	names   []string  // the model's feature names, in its row order
	work    sync.Pool // *workspace sized for the model
}

// workspace is one scoring's buffers: the feature row, the contributions
// (features then bias) and the reason selection, sliced from arrays sized
// for every feature the extractor knows, so that a workspace is one
// allocation (under -race sync.Pool drops a quarter of its Puts).
type workspace struct {
	row, contrib []float64
	idx          []int
	arrays       struct {
		row     [features.Count]float64
		contrib [features.Count + 1]float64
		idx     [features.Count]int
	}
}

// New returns a scorer serving l.
func New(l *modelstore.Loaded, opts Options) (*Scorer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := checkReasonsMode(opts.Reasons); err != nil {
		return nil, err
	}
	if opts.ReasonsTop < 0 {
		return nil, fmt.Errorf("scorer: reasons top %d must not be negative", opts.ReasonsTop)
	}
	if opts.ReasonsTop == 0 {
		opts.Reasons = ReasonsOff
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
	n, top := l.Extractor.Len(), s.opts.ReasonsTop
	a := &active{loaded: l, policy: p, reasons: newReasons(l), names: l.Extractor.Names()}
	a.work.New = func() any {
		w := new(workspace)
		w.row, w.contrib, w.idx = w.arrays.row[:n], w.arrays.contrib[:n+1], w.arrays.idx[:0:min(top, n)]
		return w
	}
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

// ReasonsUnavailable returns why the model in use gives no reason codes
// (ErrNoReasonTable, or one wrapping model.ErrNoCovers), or nil when it
// gives them (in the verdicts the Reasons option selects).
func (s *Scorer) ReasonsUnavailable() error {
	if a := s.cur.Load(); a != nil {
		return a.reasons.unavailable
	}
	return ErrNoModel
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

// Score scores ev (already validated) into vd. vd's Reasons,
// ReasonDetails and Features slices are reused and its Shadow is left
// alone. It does not allocate once they have room.
func (s *Scorer) Score(ev *contracts.TransactionEvent, vd *contracts.Verdict) error {
	return s.ScoreObserved(ev, vd, nil)
}

// ScoreObserved is Score that also hands the feature row and the score to
// obs (when not nil) before the row returns to its pool. vd's model and
// policy versions are set before anything can fail, so an error is counted
// under the version that failed. When the Reasons option selects the
// verdict's decision and the model gives reasons, vd.Reasons holds the
// codes of the features with the largest positive contributions (at most
// ReasonsTop, largest first, ties by feature order) and vd.ReasonDetails
// their detail; otherwise both are empty. With the Features option
// vd.Features holds the row the model saw (names and values in the model's
// feature order, NaN for a missing input); otherwise it is empty. vd's
// slices are reused: it does not allocate once they have room.
func (s *Scorer) ScoreObserved(ev *contracts.TransactionEvent, vd *contracts.Verdict, obs RowObserver) error {
	a := s.cur.Load()
	if a == nil {
		return ErrNoModel
	}
	vd.ModelVersion = a.loaded.Version
	vd.PolicyVersion = a.policy.Version
	vd.Features = vd.Features[:0]
	start := s.opts.Now()
	w := a.work.Get().(*workspace)
	defer a.work.Put(w)
	p, err := a.predict(ev, w.row, obs)
	if err != nil {
		return err
	}
	if s.opts.Features {
		for i, name := range a.names {
			vd.Features = append(vd.Features, contracts.FeatureValue{Name: name, Value: w.row[i]})
		}
	}
	vd.Decision = a.policy.Decide(p)
	vd.Reasons = vd.Reasons[:0]
	vd.ReasonDetails = vd.ReasonDetails[:0]
	if a.reasons.codes != nil && wants(s.opts.Reasons, vd.Decision) {
		a.reasons.explain(a.loaded.Model, vd, w.row, w.contrib, w.idx)
	}
	now := s.opts.Now()
	vd.SchemaVersion = contracts.VerdictSchemaV1
	vd.TransactionID = ev.TransactionID
	vd.Score = p
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
	w := a.work.Get().(*workspace)
	defer a.work.Put(w)
	p, err := a.predict(ev, w.row, obs)
	if err != nil {
		return err
	}
	sr.Score = p
	sr.Decision = a.policy.Decide(p)
	return nil
}

// predict extracts ev's features into row and predicts.
func (a *active) predict(ev *contracts.TransactionEvent, row []float64, obs RowObserver) (float64, error) {
	if err := a.loaded.Extractor.Extract(ev, row); err != nil {
		return 0, fmt.Errorf("scorer: %w", err)
	}
	p, err := a.loaded.Model.Predict(row)
	if err != nil {
		return 0, fmt.Errorf("scorer: predict with %s: %w", a.loaded.Version, err)
	}
	if obs != nil {
		obs.Observe(row, p)
	}
	return p, nil
}
