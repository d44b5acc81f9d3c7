package compare_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/compare"
)

const (
	approve = contracts.DecisionApprove
	review  = contracts.DecisionReview
	decline = contracts.DecisionDecline
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// verdict is a verdict decided by version with score and decision, scored
// at t0 plus i seconds, with the given shadow entries.
func verdict(i int, version string, score float64, d contracts.Decision, shadow ...contracts.ShadowResult) contracts.Verdict {
	return contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1, TransactionID: "tx" + string(rune('a'+i)), Decision: d,
		Score: score, ModelVersion: version, PolicyVersion: version, ScoredAt: t0.Add(time.Duration(i) * time.Second),
		Shadow: shadow,
	}
}

func shadow(version string, score float64, d contracts.Decision) contracts.ShadowResult {
	return contracts.ShadowResult{ModelVersion: version, PolicyVersion: version, Score: score, Decision: d}
}

// trial is a crafted split trial: champion v1 scores 0.01..0.10 on ten
// transactions, of which it decides seven and the challenger v2 three; v2
// agrees on the first five (same scores) and scores the last five 0.95.
// Two verdicts before the trial have no shadow entry; three are invalid.
func trial() []contracts.Verdict {
	champ := []contracts.Decision{approve, approve, approve, approve, approve, approve, approve, approve, review, decline}
	var vs []contracts.Verdict
	for i := range 10 {
		s1 := float64(i+1) / 100
		s2, d2 := s1, approve
		if i >= 5 {
			s2, d2 = 0.95, decline
		}
		if i%3 == 1 { // i = 1, 4, 7: the challenger decides
			vs = append(vs, verdict(i+2, "v2", s2, d2, shadow("v1", s1, champ[i])))
		} else {
			vs = append(vs, verdict(i+2, "v1", s1, champ[i], shadow("v2", s2, d2)))
		}
	}
	vs = append(vs, verdict(0, "v1", 0.2, approve), verdict(1, "v1", 0.3, approve))
	bad := verdict(20, "v1", 0.5, "maybe")
	self := verdict(21, "v1", 0.5, approve, shadow("v1", 0.5, approve))
	nan := verdict(22, "v1", 0.5, approve, shadow("v2", math.NaN(), approve))
	return append(vs, bad, self, nan)
}

func report(t *testing.T, vs []contracts.Verdict) compare.Report {
	t.Helper()
	var a compare.Aggregator
	for i := range vs {
		a.Add(&vs[i])
	}
	return a.Report()
}

func TestReportModels(t *testing.T) {
	r := report(t, trial())
	assert.Equal(t, 12, r.Verdicts)
	assert.Equal(t, 3, r.Skipped)
	assert.Equal(t, t0, r.FirstScoredAt)
	assert.Equal(t, t0.Add(11*time.Second), r.LastScoredAt)
	assert.Equal(t, []string{"approve", "review", "decline"}, r.Decisions)
	require.Len(t, r.Models, 2)

	v1 := r.Models[0]
	assert.Equal(t, "v1", v1.Version)
	assert.Equal(t, [3]int{12, 9, 3}, [3]int{v1.Scored, v1.Decided, v1.Shadow})
	assert.Equal(t, compare.DecisionCounts{Approve: 10, Review: 1, Decline: 1}, v1.Counts)
	assert.Equal(t, compare.DecisionRates{Approve: 10.0 / 12, Review: 1.0 / 12, Decline: 1.0 / 12}, v1.Rates)
	// v1's twelve scores 0.01..0.10, 0.2, 0.3: ranks 6, 11, 12, 12.
	assert.Equal(t, compare.Quantiles{P50: 0.06, P90: 0.2, P99: 0.3, P999: 0.3}, v1.Quantiles)

	v2 := r.Models[1]
	assert.Equal(t, "v2", v2.Version)
	assert.Equal(t, [3]int{10, 3, 7}, [3]int{v2.Scored, v2.Decided, v2.Shadow})
	assert.Equal(t, compare.DecisionCounts{Approve: 5, Decline: 5}, v2.Counts)
	assert.Equal(t, compare.DecisionRates{Approve: 0.5, Decline: 0.5}, v2.Rates)
	// 0.01..0.05 then 0.95 five times: ranks 5, 9, 10, 10.
	assert.Equal(t, compare.Quantiles{P50: 0.05, P90: 0.95, P99: 0.95, P999: 0.95}, v2.Quantiles)
}

func TestReportPair(t *testing.T) {
	r := report(t, trial())
	require.Len(t, r.Pairs, 1)
	p := r.Pairs[0]
	assert.Equal(t, "v1", p.Champion, "v1 decided 7 of the 10")
	assert.Equal(t, "v2", p.Challenger)
	assert.Equal(t, [3]int{10, 7, 3}, [3]int{p.Transactions, p.ChampionDecided, p.ChallengerDecided})
	assert.Equal(t, [3][3]int{
		{5, 0, 3}, // champion approve: challenger approves 1..5, declines 6..8
		{0, 0, 1}, // champion review (9): challenger declines
		{0, 0, 1}, // champion decline (10): challenger declines
	}, p.Agreement)
	assert.Equal(t, 0.6, p.AgreementRate)
	assert.Equal(t, compare.BinsDeciles, p.Bins)
	assert.Equal(t, []float64{0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1}, p.BinEdges)
	assert.Equal(t, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, p.ChampionBins)
	assert.Equal(t, []int{1, 1, 1, 1, 1, 0, 0, 0, 0, 5}, p.ChallengerBins)
	// Shares: champion 0.1 everywhere; challenger 0.1 in five bins, empty
	// (raised to drift.Epsilon = 1e-4) in four, 0.5 in the last.
	want := 4*(1e-4-0.1)*math.Log(1e-4/0.1) + (0.5-0.1)*math.Log(0.5/0.1)
	assert.InDelta(t, want, p.PSI, 1e-12)
	assert.InDelta(t, 3.404, p.PSI, 1e-3)
}

// The champion is the version that decided more, even when its name sorts
// after the challenger's, and the matrix is oriented champion by row.
func TestReportPairOrientation(t *testing.T) {
	vs := []contracts.Verdict{
		verdict(0, "v9", 0.9, decline, shadow("v1", 0.1, approve)),
		verdict(1, "v9", 0.5, review, shadow("v1", 0.1, approve)),
		verdict(2, "v1", 0.1, approve, shadow("v9", 0.2, approve)),
		verdict(3, "v9", 0.9, decline, shadow("v1", 0.6, review)),
	}
	p := report(t, vs).Pairs[0]
	assert.Equal(t, [2]string{"v9", "v1"}, [2]string{p.Champion, p.Challenger})
	assert.Equal(t, [2]int{3, 1}, [2]int{p.ChampionDecided, p.ChallengerDecided})
	assert.Equal(t, [3][3]int{{1, 0, 0}, {1, 0, 0}, {1, 1, 0}}, p.Agreement)
	assert.Equal(t, 0.25, p.AgreementRate)

	// A tie goes to the lower name (the older vYYYYMMDD_HHMMSS version).
	p = report(t, vs[1:3]).Pairs[0]
	assert.Equal(t, [2]string{"v1", "v9"}, [2]string{p.Champion, p.Challenger})
	assert.Equal(t, [3][3]int{{1, 1, 0}, {0, 0, 0}, {0, 0, 0}}, p.Agreement)
}

// Equal deciles merge: a champion that always scores 0 has one edge and one
// bin, which also takes every higher challenger score (PSI 0: the bins say
// nothing, and the quantiles and the matrix show the difference).
func TestReportTiedDeciles(t *testing.T) {
	var vs []contracts.Verdict
	for i := range 4 {
		vs = append(vs, verdict(i, "v1", 0, approve, shadow("v2", 0.5, review)))
	}
	p := report(t, vs).Pairs[0]
	assert.Equal(t, []float64{0}, p.BinEdges)
	assert.Equal(t, []int{4}, p.ChampionBins)
	assert.Equal(t, []int{4}, p.ChallengerBins, "above the last edge: the last bin")
	assert.Zero(t, p.PSI, "one bin cannot tell distributions apart")
	assert.Equal(t, [3][3]int{{0, 4, 0}}, p.Agreement)
}

func TestReportEmpty(t *testing.T) {
	var a compare.Aggregator
	r := a.Report()
	assert.Zero(t, r.Verdicts)
	b, err := json.Marshal(&r)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"models":[],"pairs":[]`)
}

func TestQuantile(t *testing.T) {
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for pm, want := range map[int]float64{1: 1, 100: 1, 101: 2, 500: 5, 900: 9, 990: 10, 999: 10, 1000: 10, 0: 1, 2000: 10} {
		assert.Equal(t, want, compare.Quantile(ten, pm), "per mille %d", pm)
	}
	thousand := make([]float64, 1000)
	for i := range thousand {
		thousand[i] = float64(i + 1)
	}
	for pm, want := range map[int]float64{500: 500, 900: 900, 990: 990, 999: 999, 1000: 1000} {
		assert.Equal(t, want, compare.Quantile(thousand, pm), "per mille %d", pm)
	}
	assert.Zero(t, compare.Quantile(nil, 500))
}

func TestWriteText(t *testing.T) {
	r := report(t, trial())
	var b strings.Builder
	require.NoError(t, compare.WriteText(&b, &r))
	assert.Equal(t, strings.TrimLeft(`
12 verdicts, scored 2026-12-02T10:00:00Z .. 2026-12-02T10:00:11Z (3 skipped: invalid decision, score or version)

MODEL  SCORED  DECIDED  SHADOW  APPROVE  REVIEW  DECLINE  P50   P90   P99   P99.9
v1     12      9        3       83.33%   8.33%   8.33%    0.06  0.2   0.3   0.3
v2     10      3        7       50.00%   0.00%   50.00%   0.05  0.95  0.95  0.95

champion v1 vs challenger v2: 10 transactions (champion decided 7, challenger 3)
  champion \ challenger  approve  review  decline
  approve                5        0       3
  review                 0        0       1
  decline                0        0       1
  agreement 60.00%; score PSI 3.4041 over 10 bins (deciles of the champion's scores)
`, "\n"), b.String())
}
