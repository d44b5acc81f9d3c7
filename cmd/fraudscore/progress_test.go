package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/synthetic"
)

// Without demo mode, a worker logs a progress line every
// FRAUDSCORE_PROGRESS_INTERVAL, and the lines add up to what it processed;
// a misspelt variable is warned about with the closest name, and the chaos
// suite's variable is not.
func TestProgressSummaryWithoutDemo(t *testing.T) {
	w, _, url := readyWorker(t,
		"FRAUDSCORE_BACKLOG_POLL=100ms", "FRAUDSCORE_PROGRESS_INTERVAL=200ms",
		"FRAUDSCORE_CONCURENCY=2", "FRAUDSCORE_CHAOS=1",
	)

	js := natstest.JetStream(t, url)
	const n = 120
	evs := synthEvents(synthetic.Config{Seed: 9, Now: time.Now, IDPrefix: "progress-"}, n)
	natstest.PublishEvents(t, js, contracts.SubjectTransactionsPrefix+"test", evs)

	var total int64
	require.Eventually(t, func() bool {
		total = 0
		recs := testenv.Matching(w.Records(), testenv.MsgIs("progress"))
		for _, r := range recs {
			for _, d := range contracts.Decisions {
				total += int64(r[string(d)].(float64))
			}
		}
		return total == n && recs[len(recs)-1]["backlog"] == 0.0
	}, 60*time.Second, 50*time.Millisecond, "progress lines never added up to %d verdicts", n)

	warn := testenv.Matching(w.Records(), func(r map[string]any) bool { return r["level"] == "WARN" && r["var"] != nil })
	require.Len(t, warn, 1, "one unknown variable, and FRAUDSCORE_CHAOS is not one")
	assert.Equal(t, "FRAUDSCORE_CONCURENCY", warn[0]["var"])
	assert.Equal(t, "FRAUDSCORE_CONCURRENCY", warn[0]["did_you_mean"])
	assert.Contains(t, warn[0]["msg"], "did you mean FRAUDSCORE_CONCURRENCY")

	require.NoError(t, w.Stop(30*time.Second), "clean exit on SIGTERM")
	assert.Empty(t, testenv.Matching(w.Records(), testenv.MsgIs("demo: publishing synthetic transactions")))
}
