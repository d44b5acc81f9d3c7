package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

// metricValue returns the value of the series named exactly series on a
// /metrics page, -1 when absent.
func metricValue(page, series string) float64 {
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// TestReportFromDemoLabels: a worker with the label join on and the demo
// labelling every transaction one second after publishing it; the joined
// labels show on /metrics, and fraudscore report prints the table of the
// bundled model version from the streams, with at least as many labels
// joined as the worker had counted before it ran.
func TestReportFromDemoLabels(t *testing.T) {
	_, httpAddr, natsURL := readyWorker(t, "FRAUDSCORE_LABELS=true", "FRAUDSCORE_DEMO_RATE=50",
		"FRAUDSCORE_DEMO_LABEL_SHARE=1", "FRAUDSCORE_DEMO_LABEL_DELAY=1s")
	const joined = `fraudscore_labels_total{result="joined"}`
	var counted float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		counted = metricValue(testenv.HTTPBody(t, "http://"+httpAddr+"/metrics"), joined)
		if counted >= 20 {
			break
		}
		require.True(t, time.Now().Before(deadline), "demo labels never joined: %s = %v", joined, counted)
		time.Sleep(100 * time.Millisecond) // polling interval, not synchronisation
	}
	r := runBin(t, "", nil, "report", "-url", natsURL)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^\s*model_version\s+rule\s+labelled\s+fraud\s+TP\s+FP\s+FN\s+precision\s+recall\s+review\s+decline\s*$`, r.stdout)
	assert.Regexp(t, `(?m)^\s*v\d{8}_\d{6}\s+\(all\)\s+\d+`, r.stdout, "a row for the bundled model version")
	assert.Regexp(t, `(?m)^\s*v\d{8}_\d{6}\s+model\s+\d+`, r.stdout, "a row for the model's own decisions")
	m := regexp.MustCompile(`labels: (\d+) read, (\d+) joined, (\d+) unknown transaction, 0 duplicate, 0 contradictory, 0 undecodable`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	got, _ := strconv.Atoi(m[2])
	assert.GreaterOrEqual(t, float64(got), counted, "the report joins what the worker had joined")
}

func TestReportUsage(t *testing.T) {
	r := runBin(t, "", nil, "report", "--help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "usage: fraudscore report [flags]")
	assert.Contains(t, r.stdout, "FRAUDSCORE_VERDICT_INDEX_BUCKET")
	r = runBin(t, "", nil, "report", "extra")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "takes no arguments")
	r = runBin(t, "", nil, "report", "-nope")
	assert.Equal(t, 2, r.code)
	r = runBin(t, "", nil, "report", "-url", "nats://"+testenv.FreeAddr(t))
	assert.Equal(t, 1, r.code)
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %s", r.stderr)
	assert.True(t, strings.HasPrefix(r.stderr, "fraudscore report: "), r.stderr)
}

// docLabelData is the worked example of docs/labels.md: verdicts of two
// model versions, some decided by analyst rules, and a label for each, plus
// a duplicate, a contradiction, a label for a transaction never scored and
// one that is not JSON.
func docLabelData() (vds []contracts.Verdict, lbs [][2]string) {
	type group struct {
		model, rule string
		d           contracts.Decision
		o           contracts.Outcome
		n           int
	}
	const a, b = "v20261101_000000", "v20261201_000000"
	groups := []group{
		{a, "", contracts.DecisionDecline, contracts.OutcomeFraud, 6}, {a, "", contracts.DecisionDecline, contracts.OutcomeLegit, 2},
		{a, "", contracts.DecisionReview, contracts.OutcomeFraud, 4}, {a, "", contracts.DecisionReview, contracts.OutcomeLegit, 4},
		{a, "", contracts.DecisionApprove, contracts.OutcomeFraud, 3}, {a, "", contracts.DecisionApprove, contracts.OutcomeLegit, 20},
		{a, "cross_border_elevated_score", contracts.DecisionReview, contracts.OutcomeFraud, 1},
		{a, "cross_border_elevated_score", contracts.DecisionReview, contracts.OutcomeLegit, 3},
		{b, "", contracts.DecisionDecline, contracts.OutcomeFraud, 8}, {b, "", contracts.DecisionDecline, contracts.OutcomeLegit, 1},
		{b, "", contracts.DecisionReview, contracts.OutcomeFraud, 3}, {b, "", contracts.DecisionReview, contracts.OutcomeLegit, 2},
		{b, "", contracts.DecisionApprove, contracts.OutcomeFraud, 1}, {b, "", contracts.DecisionApprove, contracts.OutcomeLegit, 25},
		{b, "gambling_new_account", contracts.DecisionDecline, contracts.OutcomeFraud, 2},
		{b, "vip_allow", contracts.DecisionApprove, contracts.OutcomeLegit, 1},
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, g := range groups {
		for range g.n {
			id := fmt.Sprintf("doc-%03d", len(vds))
			vd := contracts.Verdict{SchemaVersion: contracts.VerdictSchemaV1, TransactionID: id, Decision: g.d,
				Score: 0.5, ModelVersion: g.model, PolicyVersion: g.model, Rule: g.rule, ScoredAt: at}
			if g.rule != "" {
				vd.RulesVersion = "v20261202_110000"
			}
			vds = append(vds, vd)
			lbs = append(lbs, [2]string{id, string(g.o)})
		}
	}
	lbs = append(lbs, [2]string{"doc-000", "fraud"}, [2]string{"doc-001", "legit"}, [2]string{"doc-never-scored", "fraud"})
	return vds, lbs
}

// TestLabelsDocReport runs the worked example of docs/labels.md: a worker
// with the label join indexes the example's verdicts, joins its labels
// (published once every verdict is indexed, so the first label of each
// transaction is the one counted), and fraudscore report prints what the
// document shows, byte for byte.
func TestLabelsDocReport(t *testing.T) {
	_, httpAddr, natsURL := readyWorker(t, "FRAUDSCORE_LABELS=true", "FRAUDSCORE_LABEL_VERDICT_WAIT=1s",
		"FRAUDSCORE_LABEL_RETRY_DELAY=100ms")
	js := natstest.JetStream(t, natsURL)
	vds, lbs := docLabelData()
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, vds)
	waitMetric(t, httpAddr, "fraudscore_verdicts_indexed_total", float64(len(vds)))
	ctx := context.Background()
	for _, l := range lbs {
		data, err := json.Marshal(&contracts.Label{SchemaVersion: contracts.LabelSchemaV1, TransactionID: l[0],
			Label: contracts.Outcome(l[1]), Source: contracts.SourceReview, ReportedAt: time.Now().UTC()})
		require.NoError(t, err)
		_, err = js.Publish(ctx, contracts.LabelSubject(contracts.SourceReview), data)
		require.NoError(t, err)
	}
	_, err := js.Publish(ctx, contracts.LabelSubject(contracts.SourceChargeback), []byte("not json"))
	require.NoError(t, err)
	waitMetric(t, httpAddr, `fraudscore_labels_total{result="unknown"}`, 1)
	waitMetric(t, httpAddr, `fraudscore_labels_total{result="joined"}`, float64(len(vds)))
	waitMetric(t, httpAddr, `fraudscore_labels_total{result="dead_letter"}`, 1)

	r := runBin(t, "", nil, "report", "-url", natsURL)
	require.Zero(t, r.code, r.stderr)
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "labels.md"))
	require.NoError(t, err)
	want, ok := commandOutput(string(raw), "$ ./bin/fraudscore report")
	require.True(t, ok, "docs/labels.md shows fraudscore report's output")
	assert.Equal(t, want, r.stdout, "docs/labels.md: fraudscore report")
}

// waitMetric waits (bounded) until the series on the side port at httpAddr
// has the value want.
func waitMetric(t *testing.T, httpAddr, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := metricValue(testenv.HTTPBody(t, "http://"+httpAddr+"/metrics"), series)
		if got == want {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s = %v, want %v", series, got, want)
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

// commandOutput returns the lines a document shows after the line cmd, up
// to the end of its code block or the next command.
func commandOutput(doc, cmd string) (string, bool) {
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		if l != cmd {
			continue
		}
		var out []string
		for _, o := range lines[i+1:] {
			if strings.HasPrefix(o, "```") || strings.HasPrefix(o, "$ ") {
				break
			}
			out = append(out, o)
		}
		return strings.Join(out, "\n") + "\n", true
	}
	return "", false
}
