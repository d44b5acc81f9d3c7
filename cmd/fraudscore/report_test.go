package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
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
