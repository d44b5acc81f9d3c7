package scorer_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

func TestTopPositive(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name    string
		contrib []float64
		top     int
		want    []int
	}{
		{"largest first", []float64{0.1, 0.5, 0.3}, 3, []int{1, 2, 0}},
		{"top cuts", []float64{0.1, 0.5, 0.3, 0.4}, 2, []int{1, 3}},
		{"negatives, zeros and NaN never", []float64{-1, 0, nan, 0.2, -0.5}, 3, []int{3}},
		{"all negative", []float64{-1, -2}, 3, []int{}},
		{"ties by feature order", []float64{0.2, 0.5, 0.2, 0.5, 0.2}, 3, []int{1, 3, 0}},
		{"ties past the cut keep the earlier", []float64{0.2, 0.2, 0.2}, 2, []int{0, 1}},
		{"a later larger value moves ties down", []float64{0.2, 0.2, 0.9}, 2, []int{2, 0}},
		{"top 0", []float64{1, 2}, 0, []int{}},
		{"top 1", []float64{0.3, 0.1, 0.7, 0.7}, 1, []int{2}},
		{"more room than positives", []float64{0.3, -0.1, 0.7}, 5, []int{2, 0}},
		{"+Inf first", []float64{1, math.Inf(1), math.Inf(-1)}, 3, []int{1, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := scorer.TopPositive(c.contrib, make([]int, c.top/2, c.top)) // a stale length is reset
			assert.Equal(t, c.want, append([]int{}, got...))
		})
	}
	idx := make([]int, 0, 3)
	contrib := []float64{0.1, 0.5, -0.3, 0.4, 0.5}
	assert.Zero(t, testing.AllocsPerRun(100, func() { idx = scorer.TopPositive(contrib, idx) }))
}

// byDecision scores evs and returns one verdict of each decision (a copy).
func scoreAll(t *testing.T, s *scorer.Scorer, evs []contracts.TransactionEvent) []contracts.Verdict {
	t.Helper()
	out := make([]contracts.Verdict, len(evs))
	for i := range evs {
		require.NoError(t, s.Score(&evs[i], &out[i]))
	}
	return out
}

// Flagged verdicts carry the codes of their largest positive
// contributions, with the value the model saw; approvals carry none; the
// details agree with the model's own contributions.
func TestScoreReasonsFlagged(t *testing.T) {
	l := testenv.BundledModel(t)
	s, err := scorer.New(l, scorer.Options{Reasons: scorer.ReasonsFlagged, ReasonsTop: 3})
	require.NoError(t, err)
	require.NoError(t, s.ReasonsUnavailable())
	evs := sampleEvents(t, 400)
	v := contracts.NewValidator()
	seen := map[contracts.Decision]int{}
	row := make([]float64, l.Extractor.Len())
	contrib := make([]float64, l.Extractor.Len()+1)
	for i, vd := range scoreAll(t, s, evs) {
		seen[vd.Decision]++
		require.NoError(t, v.ValidateVerdict(&vd))
		if vd.Decision == contracts.DecisionApprove {
			assert.Empty(t, vd.Reasons)
			assert.Empty(t, vd.ReasonDetails)
			continue
		}
		require.NoError(t, l.Extractor.Extract(&evs[i], row))
		require.NoError(t, l.Model.Contributions(row, contrib))
		positive := 0
		for _, c := range contrib[:len(row)] {
			if c > 0 {
				positive++
			}
		}
		require.Len(t, vd.Reasons, min(3, positive))
		require.Len(t, vd.ReasonDetails, len(vd.Reasons))
		for j, d := range vd.ReasonDetails {
			assert.Equal(t, l.Reasons[d.Feature].Code, d.Code)
			assert.Equal(t, vd.Reasons[j], d.Code)
			k := indexOf(l.Meta.Features, d.Feature)
			require.GreaterOrEqual(t, k, 0, d.Feature)
			assert.Equal(t, contrib[k], d.Contribution)
			assert.Greater(t, d.Contribution, 0.0)
			if math.IsNaN(row[k]) {
				assert.True(t, math.IsNaN(d.Value))
			} else {
				assert.Equal(t, row[k], d.Value)
			}
			if j > 0 {
				assert.GreaterOrEqual(t, vd.ReasonDetails[j-1].Contribution, d.Contribution)
			}
		}
	}
	assert.Positive(t, seen[contracts.DecisionApprove])
	assert.Positive(t, seen[contracts.DecisionDecline])
}

func indexOf(names []string, n string) int {
	for i, m := range names {
		if m == n {
			return i
		}
	}
	return -1
}

func TestScoreReasonsModes(t *testing.T) {
	l := testenv.BundledModel(t)
	evs := sampleEvents(t, 200)
	count := func(opts scorer.Options) (withReasons map[contracts.Decision]int, maxLen int) {
		s, err := scorer.New(l, opts)
		require.NoError(t, err)
		withReasons = map[contracts.Decision]int{}
		for _, vd := range scoreAll(t, s, evs) {
			if len(vd.Reasons) > 0 {
				withReasons[vd.Decision]++
			}
			maxLen = max(maxLen, len(vd.Reasons))
		}
		return withReasons, maxLen
	}
	all, n := count(scorer.Options{Reasons: scorer.ReasonsAll, ReasonsTop: 5})
	assert.Positive(t, all[contracts.DecisionApprove], "all: approvals carry reasons too")
	assert.Equal(t, 5, n)
	off, _ := count(scorer.Options{Reasons: scorer.ReasonsOff, ReasonsTop: 3})
	assert.Empty(t, off)
	zero, _ := count(scorer.Options{})
	assert.Empty(t, zero, "the zero Options give no reasons")
	top0, _ := count(scorer.Options{Reasons: scorer.ReasonsAll})
	assert.Empty(t, top0)
	_, n = count(scorer.Options{Reasons: scorer.ReasonsFlagged, ReasonsTop: 1})
	assert.Equal(t, 1, n)

	_, err := scorer.New(l, scorer.Options{Reasons: "some"})
	require.ErrorIs(t, err, scorer.ErrReasonsMode)
	_, err = scorer.New(l, scorer.Options{Reasons: scorer.ReasonsAll, ReasonsTop: -1})
	require.Error(t, err)
}

// A version shipped without a reason table serves without reasons and
// says why.
func TestScoreWithoutReasonTable(t *testing.T) {
	dir := t.TempDir()
	vdir := testenv.CopyBundled(t, dir, "v20250101_000000")
	require.NoError(t, os.Remove(filepath.Join(vdir, modelstore.ReasonsFile)))
	l, err := modelstore.Open(dir).Load("v20250101_000000")
	require.NoError(t, err)
	s, err := scorer.New(l, scorer.Options{Reasons: scorer.ReasonsAll, ReasonsTop: 3})
	require.NoError(t, err)
	require.ErrorIs(t, s.ReasonsUnavailable(), scorer.ErrNoReasonTable)
	for _, vd := range scoreAll(t, s, sampleEvents(t, 50)) {
		assert.Empty(t, vd.Reasons)
		assert.Empty(t, vd.ReasonDetails)
	}
}

func TestScoreWithReasonsDoesNotAllocate(t *testing.T) {
	s, err := scorer.New(testenv.BundledModel(t), scorer.Options{Reasons: scorer.ReasonsAll, ReasonsTop: 3})
	require.NoError(t, err)
	evs := sampleEvents(t, 50)
	var vd contracts.Verdict
	require.NoError(t, s.Score(&evs[0], &vd))
	vd.Reasons = make([]string, 0, 3)
	vd.ReasonDetails = make([]contracts.ReasonDetail, 0, 3)
	// The row's and TreeSHAP's workspaces come from pools.
	i, with := 0, 0
	allocs := testing.AllocsPerRun(2000, func() {
		if err := s.Score(&evs[i%len(evs)], &vd); err != nil {
			t.Fatal(err)
		}
		with += min(1, len(vd.Reasons))
		i++
	})
	assert.LessOrEqual(t, allocs, testenv.RaceAllocs, "Score with reasons allocates")
	assert.Positive(t, with)
}
