package scorer_test

import (
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/synthetic"
)

// farFuture judges fixed-date test events as past.
func farFuture() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }

func testdataEvents(tb testing.TB) []contracts.TransactionEvent {
	tb.Helper()
	paths, err := filepath.Glob("../contracts/testdata/events/valid/*.json")
	require.NoError(tb, err)
	require.NotEmpty(tb, paths)
	v := contracts.NewValidator()
	v.Now = farFuture
	var out []contracts.TransactionEvent
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(tb, err)
		var ev contracts.TransactionEvent
		require.NoError(tb, v.DecodeEvent(raw, &ev), p)
		out = append(out, ev)
	}
	return out
}

// sampleEvents returns the contract's example events followed by synthetic
// ones, fraud over-represented so that every decision appears.
func sampleEvents(tb testing.TB, n int) []contracts.TransactionEvent {
	evs := testdataEvents(tb)
	g := synthetic.New(synthetic.Config{Seed: 424242, FraudRate: 0.3})
	for len(evs) < n {
		ev, _ := g.Next()
		evs = append(evs, ev)
	}
	return evs
}

func decide(p float64, th modelstore.Thresholds) contracts.Decision {
	switch {
	case p >= th.Decline:
		return contracts.DecisionDecline
	case p >= th.Review:
		return contracts.DecisionReview
	}
	return contracts.DecisionApprove
}

// TestScoreMatchesXGBoost compares Scorer.Score with XGBoost's own
// predictions of the bundled model on the same feature rows.
func TestScoreMatchesXGBoost(t *testing.T) {
	l := testenv.BundledModel(t)
	s, err := scorer.New(l, scorer.Options{})
	require.NoError(t, err)
	evs := sampleEvents(t, 220)
	rows := make([][]float64, len(evs))
	for i := range evs {
		var f [features.Count]float64
		features.ExtractAll(&evs[i], &f)
		rows[i] = f[:]
	}
	want := xgboostPredict(t, filepath.Join(l.Dir, l.Meta.ModelFile), rows)
	counts := map[contracts.Decision]int{}
	missing := 0
	var maxDiff float64
	var vd contracts.Verdict
	for i := range evs {
		require.NoError(t, s.Score(&evs[i], &vd))
		maxDiff = math.Max(maxDiff, math.Abs(want[i]-vd.Score))
		require.InDelta(t, want[i], vd.Score, 1e-6, "event %d (%s)", i, evs[i].TransactionID)
		require.Equal(t, decide(want[i], l.Meta.Thresholds), vd.Decision, "event %d score %v", i, vd.Score)
		assert.Equal(t, evs[i].TransactionID, vd.TransactionID)
		assert.Equal(t, l.Version, vd.ModelVersion)
		assert.Equal(t, l.Version+"/model", vd.PolicyVersion)
		assert.Equal(t, contracts.VerdictSchemaV1, vd.SchemaVersion)
		counts[vd.Decision]++
		for _, v := range rows[i] {
			if math.IsNaN(v) {
				missing++
				break
			}
		}
	}
	t.Logf("%d events: max |Score - XGBoost| = %.3g; decisions %v; %d rows with missing values", len(evs), maxDiff, counts, missing)
	for _, d := range contracts.Decisions {
		assert.Positive(t, counts[d], "no %s in the sample: the comparison does not cover it", d)
	}
	assert.Positive(t, missing)
}

func TestScoreVerdictIsValid(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("x", 7200))
	var calls int
	clock := func() time.Time { calls++; return now.Add(time.Duration(calls) * 3 * time.Microsecond) }
	s, err := scorer.New(testenv.BundledModel(t), scorer.Options{Now: clock})
	require.NoError(t, err)
	v := contracts.NewValidator()
	vd := contracts.Verdict{Reasons: []string{"stale"}}
	for _, ev := range testdataEvents(t) {
		require.NoError(t, s.Score(&ev, &vd))
		require.NoError(t, v.ValidateVerdict(&vd))
		assert.Empty(t, vd.Reasons, "reasons are reset")
		assert.Equal(t, time.UTC, vd.ScoredAt.Location())
		assert.Equal(t, int64(3), vd.ScoringMicros, "scoring time is measured with Options.Now")
		assert.True(t, vd.Score >= 0 && vd.Score <= 1)
	}
}

func TestNewAndSwapRefuseNil(t *testing.T) {
	_, err := scorer.New(nil, scorer.Options{})
	assert.ErrorIs(t, err, scorer.ErrNoModel)
	s, err := scorer.New(testenv.BundledModel(t), scorer.Options{})
	require.NoError(t, err)
	assert.ErrorIs(t, s.Swap(nil), scorer.ErrNoModel)
	assert.NotNil(t, s.Model(), "a refused swap keeps the model in use")
}

func TestOverrideThresholds(t *testing.T) {
	l := testenv.BundledModel(t)
	s, err := scorer.New(l, scorer.Options{Review: 0.5, Decline: 0.9})
	require.NoError(t, err)
	p := s.Policy()
	assert.Equal(t, "override/r0.5-d0.9", p.Version)
	assert.Equal(t, 0.5, p.Review)
	assert.Equal(t, 0.9, p.Decline)
	var vd contracts.Verdict
	ev := testdataEvents(t)[0]
	require.NoError(t, s.Score(&ev, &vd))
	assert.Equal(t, "override/r0.5-d0.9", vd.PolicyVersion)
	assert.Equal(t, decide(vd.Score, modelstore.Thresholds{Review: 0.5, Decline: 0.9}), vd.Decision)

	// Only one override is ignored: the model's thresholds apply.
	s, err = scorer.New(l, scorer.Options{Review: 0.5})
	require.NoError(t, err)
	assert.Equal(t, l.Meta.Thresholds.Review, s.Policy().Review)
	assert.Equal(t, l.Version+"/model", s.Policy().Version)

	// Invalid overrides are refused.
	_, err = scorer.New(l, scorer.Options{Review: 0.9, Decline: 0.5})
	assert.ErrorIs(t, err, scorer.ErrPolicy)
	_, err = scorer.New(l, scorer.Options{Review: 0.5, Decline: 1.5})
	assert.ErrorIs(t, err, scorer.ErrPolicy)
}

func TestPolicy(t *testing.T) {
	p, err := scorer.NewPolicy("pv", 0.3, 0.7)
	require.NoError(t, err)
	next := func(x float64) float64 { return math.Nextafter(x, 2) }
	prev := func(x float64) float64 { return math.Nextafter(x, -1) }
	cases := []struct {
		score float64
		want  contracts.Decision
	}{
		{0, contracts.DecisionApprove},
		{prev(0.3), contracts.DecisionApprove},
		{0.3, contracts.DecisionReview}, // exactly at review
		{next(0.3), contracts.DecisionReview},
		{prev(0.7), contracts.DecisionReview},
		{0.7, contracts.DecisionDecline}, // exactly at decline
		{1, contracts.DecisionDecline},
		{math.NaN(), contracts.DecisionReview}, // fail safe
		{math.Inf(1), contracts.DecisionDecline},
		{math.Inf(-1), contracts.DecisionApprove},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, p.Decide(c.score), "score %v", c.score)
	}

	// review == decline: there is no review band.
	p, err = scorer.NewPolicy("eq", 0.5, 0.5)
	require.NoError(t, err)
	assert.Equal(t, contracts.DecisionDecline, p.Decide(0.5))
	assert.Equal(t, contracts.DecisionApprove, p.Decide(prev(0.5)))
	assert.Equal(t, contracts.DecisionReview, p.Decide(math.NaN()))

	// decline == 1 is allowed: only a certain score declines.
	_, err = scorer.NewPolicy("one", 0.5, 1)
	require.NoError(t, err)

	for _, bad := range [][2]float64{{0, 0.5}, {-0.1, 0.5}, {0.6, 0.5}, {0.5, 1.01}, {math.NaN(), 0.5}, {0.5, math.NaN()}} {
		_, err := scorer.NewPolicy("bad", bad[0], bad[1])
		assert.ErrorIs(t, err, scorer.ErrPolicy, "%v", bad)
	}
	assert.Equal(t, "override/r0.025-d0.2", scorer.OverrideVersion(0.025, 0.2))
}

// TestSwapUnderConcurrentScore swaps between two model versions (different
// thresholds) while scorers run; under -race this checks the handover, and
// every verdict must be consistent with one version.
func TestSwapUnderConcurrentScore(t *testing.T) {
	a := testenv.BundledModel(t)
	b := *a
	b.Version = "v20990101_000000"
	b.Meta.Thresholds = modelstore.Thresholds{Review: 0.5, Decline: 0.99}
	s, err := scorer.New(a, scorer.Options{})
	require.NoError(t, err)
	evs := sampleEvents(t, 64)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var scored atomic.Int64
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var vd contracts.Verdict
			for i := w; !stop.Load(); i++ {
				ev := &evs[i%len(evs)]
				if err := s.Score(ev, &vd); err != nil {
					errs <- err
					return
				}
				th := a.Meta.Thresholds
				switch vd.ModelVersion {
				case a.Version:
				case b.Version:
					th = b.Meta.Thresholds
				default:
					t.Errorf("unknown model version %q", vd.ModelVersion)
					return
				}
				if vd.PolicyVersion != vd.ModelVersion+"/model" || vd.Decision != decide(vd.Score, th) {
					t.Errorf("verdict mixes versions: %+v", vd)
					return
				}
				scored.Add(1)
			}
		}()
	}
	for i := range 50 {
		next := a
		if i%2 == 0 {
			next = &b
		}
		require.NoError(t, s.Swap(next))
		assert.Equal(t, next.Version, s.Model().Version)
		time.Sleep(100 * time.Microsecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Positive(t, scored.Load())
}

func TestScoreDoesNotAllocate(t *testing.T) {
	s, err := scorer.New(testenv.BundledModel(t), scorer.Options{})
	require.NoError(t, err)
	evs := testdataEvents(t)
	var vd contracts.Verdict
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		if err := s.Score(&evs[i%len(evs)], &vd); err != nil {
			t.Fatal(err)
		}
		i++
	})
	assert.Zero(t, allocs, "Score allocates")
}

// rowCopy is a RowObserver that keeps the last row and score it saw.
type rowCopy struct {
	row   []float64
	score float64
	n     int
}

func (r *rowCopy) Observe(row []float64, score float64) {
	r.row = append(r.row[:0], row...)
	r.score = score
	r.n++
}

func TestScoreObservedAndShadowAgreeWithScore(t *testing.T) {
	l := testenv.BundledModel(t)
	s, err := scorer.New(l, scorer.Options{})
	require.NoError(t, err)
	for _, ev := range sampleEvents(t, 50) {
		var plain, observed contracts.Verdict
		require.NoError(t, s.Score(&ev, &plain))
		obs := &rowCopy{}
		require.NoError(t, s.ScoreObserved(&ev, &observed, obs))
		assert.Equal(t, plain.Score, observed.Score)
		assert.Equal(t, plain.Score, obs.score)
		want := make([]float64, l.Extractor.Len())
		require.NoError(t, l.Extractor.Extract(&ev, want))
		assert.Equal(t, len(want), len(obs.row))
		for i := range want { // NaN (missing) compares unequal with ==
			assert.True(t, want[i] == obs.row[i] || math.IsNaN(want[i]) && math.IsNaN(obs.row[i]), "feature %d", i)
		}

		var sr contracts.ShadowResult
		require.NoError(t, s.ScoreShadow(&ev, &sr, nil))
		assert.Equal(t, contracts.ShadowResult{ModelVersion: plain.ModelVersion, PolicyVersion: plain.PolicyVersion,
			Score: plain.Score, Decision: plain.Decision}, sr)
	}
}

func TestScoreObservedDoesNotAllocate(t *testing.T) {
	s, err := scorer.New(testenv.BundledModel(t), scorer.Options{})
	require.NoError(t, err)
	evs := testdataEvents(t)
	var vd contracts.Verdict
	var sr contracts.ShadowResult
	obs := &rowCopy{row: make([]float64, 0, 64)}
	// One call per measurement: under -race sync.Pool drops a quarter of
	// its Puts, which a single Get per run keeps below one allocation.
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		if err := s.ScoreObserved(&evs[i%len(evs)], &vd, obs); err != nil {
			t.Fatal(err)
		}
		i++
	})
	assert.Zero(t, allocs, "ScoreObserved allocates")
	allocs = testing.AllocsPerRun(2000, func() {
		if err := s.ScoreShadow(&evs[i%len(evs)], &sr, obs); err != nil {
			t.Fatal(err)
		}
		i++
	})
	assert.Zero(t, allocs, "ScoreShadow allocates")
	assert.Positive(t, obs.n)
}
