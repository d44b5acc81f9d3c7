package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/scorer/compare"
	"github.com/fraudscore/fraudscore/worker"
)

const (
	champion   = "v20261127_135446"
	challenger = "v20261202_090000"
)

// splitTrial returns twelve verdicts of a split trial: the champion scores
// i/20 and decides ten of them, the challenger scores (i/20)² and decides
// two (tx04, tx09); two verdicts (tx10, tx11) predate the challenger.
func splitTrial() []contracts.Verdict {
	decide := func(s float64) contracts.Decision {
		switch {
		case s >= 0.4:
			return contracts.DecisionDecline
		case s >= 0.25:
			return contracts.DecisionReview
		}
		return contracts.DecisionApprove
	}
	var vs []contracts.Verdict
	for i := range 12 {
		s1 := float64(i) / 20
		s2 := s1 * s1
		vd := contracts.Verdict{
			SchemaVersion: contracts.VerdictSchemaV1, TransactionID: fmt.Sprintf("tx%02d", i),
			Decision: decide(s1), Score: s1, ModelVersion: champion, PolicyVersion: champion,
			ScoredAt: time.Date(2026, 12, 2, 10, 0, i, 0, time.UTC),
		}
		if i < 10 {
			vd.Shadow = []contracts.ShadowResult{{ModelVersion: challenger, PolicyVersion: challenger, Score: s2, Decision: decide(s2)}}
		}
		if i == 4 || i == 9 { // the challenger's share of cards
			sh := vd.Shadow[0]
			vd.Shadow[0] = contracts.ShadowResult{ModelVersion: champion, PolicyVersion: champion, Score: s1, Decision: vd.Decision}
			vd.ModelVersion, vd.PolicyVersion, vd.Score, vd.Decision = sh.ModelVersion, sh.PolicyVersion, sh.Score, sh.Decision
		}
		vs = append(vs, vd)
	}
	return vs
}

// verdictServer starts a server with the worker's verdict stream holding vs
// and returns its URL.
func verdictServer(t *testing.T, vs []contracts.Verdict) string {
	t.Helper()
	url := natstest.Start(t).ClientURL()
	js := natstest.JetStream(t, url)
	cfg := worker.DefaultConfig()
	_, err := js.CreateStream(context.Background(), worker.StreamConfigs(&cfg)[1])
	require.NoError(t, err)
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, vs)
	return url
}

func TestModelCompareText(t *testing.T) {
	url := verdictServer(t, splitTrial())
	r := runBin(t, "", nil, "model", "compare", "-url", url, "-last", "100")
	require.Zero(t, r.code, r.stderr)
	// Champion scores over the pair: 0, 0.05, ..., 0.45, one per decile bin;
	// the challenger's squares fall 1, 4, 2, 1, 1, 1, 0, 0, 0, 0 in them:
	// PSI = 0.3·ln 4 + 0.1·ln 2 + 4·(1e-4 − 0.1)·ln(1e-4/0.1) = 3.2455.
	assert.Equal(t, `stream VERDICTS, last 100: sequences 1..12
12 verdicts, scored 2026-12-02T10:00:00Z .. 2026-12-02T10:00:11Z

MODEL             SCORED  DECIDED  SHADOW  APPROVE  REVIEW  DECLINE  P50   P90   P99     P99.9
v20261127_135446  12      10       2       41.67%   25.00%  33.33%   0.25  0.5   0.55    0.55
v20261202_090000  10      2        8       100.00%  0.00%   0.00%    0.04  0.16  0.2025  0.2025

champion v20261127_135446 vs challenger v20261202_090000: 10 transactions (champion decided 8, challenger 2)
  champion \ challenger  approve  review  decline
  approve                5        0       0
  review                 3        0       0
  decline                2        0       0
  agreement 50.00%; score PSI 3.2455 over 10 bins (deciles of the champion's scores)
`, r.stdout)
}

func TestModelCompareJSON(t *testing.T) {
	vs := splitTrial()
	url := verdictServer(t, vs)
	r := runBin(t, "", nil, "model", "compare", "-url", url, "-since", "1h", "-json")
	require.Zero(t, r.code, r.stderr)
	var got compare.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)

	var agg compare.Aggregator
	for i := range vs {
		agg.Add(&vs[i])
	}
	want := agg.Report()
	require.NotNil(t, got.Source.Since)
	assert.WithinDuration(t, time.Now().Add(-time.Hour), *got.Source.Since, time.Minute)
	want.Source = compare.Source{Stream: "VERDICTS", Since: got.Source.Since, FirstSeq: 1, LastSeq: 12}
	assert.Equal(t, want, got)

	require.Len(t, got.Pairs, 1)
	p := got.Pairs[0]
	assert.Equal(t, [2]string{champion, challenger}, [2]string{p.Champion, p.Challenger})
	assert.Equal(t, [3][3]int{{5, 0, 0}, {3, 0, 0}, {2, 0, 0}}, p.Agreement)
	assert.Equal(t, compare.BinsDeciles, p.Bins)
	assert.Len(t, p.BinEdges, 10)
}

func TestModelCompareNothingToCompare(t *testing.T) {
	url := verdictServer(t, splitTrial())
	r := runBin(t, "", nil, "model", "compare", "-url", url, "-since", "2099-01-01T00:00:00Z")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "no verdicts in stream VERDICTS, since 2099-01-01T00:00:00Z")

	r = runBin(t, "", nil, "model", "compare", "-url", url, "-stream", "NOPE", "-last", "5")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "stream not found")

	r = runBin(t, "", nil, "model", "compare", "-url", "nats://"+testenv.FreeAddr(t), "-last", "5")
	assert.Equal(t, 1, r.code, "nothing listens there")
	assert.Contains(t, r.stderr, "connect to nats://")
}

func TestModelCompareUsage(t *testing.T) {
	r := runBin(t, "", nil, "model", "compare", "--help")
	require.Zero(t, r.code)
	assert.Contains(t, r.stdout, "usage: fraudscore model compare [flags] (-since D | -last N)")
	assert.Contains(t, r.stdout, "$FRAUDSCORE_NATS_CREDS_FILE")

	r = runBin(t, "", nil, "model", "--help")
	require.Zero(t, r.code)
	assert.Regexp(t, `(?m)^  compare\s+Compare model versions from the stored verdicts`, r.stdout)

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "give one of -since and -last"},
		{[]string{"-since", "1h", "-last", "3"}, "give one of -since and -last"},
		{[]string{"-last", "-3"}, "-last -3: want a positive count"},
		{[]string{"-since", "yesterday"}, `-since "yesterday": want a duration`},
		{[]string{"-since", "-5m"}, "-since -5m: want a positive duration"},
		{[]string{"-last", "3", "-user", "u"}, "FRAUDSCORE_NATS_USER and FRAUDSCORE_NATS_PASSWORD_FILE go together"},
		{[]string{"-last", "3", "extra"}, "takes no arguments"},
	} {
		r := runBin(t, "", nil, append([]string{"model", "compare"}, tc.args...)...)
		assert.Equal(t, 2, r.code, "%v", tc.args)
		assert.Contains(t, r.stderr, tc.msg, "%v", tc.args)
		assert.Contains(t, r.stderr, "usage: fraudscore model compare", "%v", tc.args)
	}
}
