package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/synthetic"
)

// workerLog collects the JSON log records of a worker process.
type workerLog struct {
	mu    sync.Mutex
	lines []string         // every line
	recs  []map[string]any // the lines that are JSON
}

func (l *workerLog) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var rec map[string]any
		ok := json.Unmarshal(sc.Bytes(), &rec) == nil
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		if ok {
			l.recs = append(l.recs, rec)
		}
		l.mu.Unlock()
	}
}

// all returns every line read so far.
func (l *workerLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// startLogged starts cmd with its stderr read into a workerLog; exited
// receives Wait's result once all of stderr is read.
func startLogged(t *testing.T, cmd *exec.Cmd) (logs *workerLog, exited <-chan error) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	logs = &workerLog{}
	done := make(chan error, 1)
	go func() { logs.read(stderr); done <- cmd.Wait() }()
	return logs, done
}

// matching returns the records for which keep is true.
func (l *workerLog) matching(keep func(map[string]any) bool) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, r := range l.recs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func msgIs(msg string) func(map[string]any) bool {
	return func(r map[string]any) bool { return r["msg"] == msg }
}

// Without demo mode, a worker logs a progress line every
// FRAUDSCORE_PROGRESS_INTERVAL, and the lines add up to what it processed;
// a misspelt variable is warned about with the closest name, and the chaos
// suite's variable is not.
func TestProgressSummaryWithoutDemo(t *testing.T) {
	natsAddr, httpAddr := freePort(t), freePort(t)
	cmd := exec.Command(fraudscore(t), "worker")
	cmd.Env = append(os.Environ(),
		"FRAUDSCORE_EMBEDDED=true", "FRAUDSCORE_EMBEDDED_STORE_DIR="+t.TempDir(),
		"FRAUDSCORE_EMBEDDED_LISTEN="+natsAddr, "FRAUDSCORE_EMBEDDED_MONITOR="+freePort(t),
		"FRAUDSCORE_HTTP_ADDR="+httpAddr, "FRAUDSCORE_MODEL_DIR="+testenv.ModelDir(t),
		"FRAUDSCORE_PULL_EXPIRY=1s", "FRAUDSCORE_BACKLOG_POLL=100ms", "FRAUDSCORE_PROGRESS_INTERVAL=200ms",
		"FRAUDSCORE_CONCURENCY=2", "FRAUDSCORE_CHAOS=1",
	)
	logs, exited := startLogged(t, cmd)

	waitReady(t, httpAddr)

	js := natstest.JetStream(t, "nats://"+natsAddr)
	const n = 120
	gen := synthetic.New(synthetic.Config{Seed: 9, Now: time.Now, IDPrefix: "progress-"})
	for range n {
		ev, _ := gen.Next()
		data, err := json.Marshal(&ev)
		require.NoError(t, err)
		_, err = js.PublishAsync(contracts.SubjectTransactionsPrefix+"test", data)
		require.NoError(t, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publishes not acknowledged")
	}

	var total int64
	require.Eventually(t, func() bool {
		total = 0
		recs := logs.matching(msgIs("progress"))
		for _, r := range recs {
			for _, d := range contracts.Decisions {
				total += int64(r[string(d)].(float64))
			}
		}
		return total == n && recs[len(recs)-1]["backlog"] == 0.0
	}, 60*time.Second, 50*time.Millisecond, "progress lines never added up to %d verdicts", n)

	warn := logs.matching(func(r map[string]any) bool { return r["level"] == "WARN" && r["var"] != nil })
	require.Len(t, warn, 1, "one unknown variable, and FRAUDSCORE_CHAOS is not one")
	assert.Equal(t, "FRAUDSCORE_CONCURENCY", warn[0]["var"])
	assert.Equal(t, "FRAUDSCORE_CONCURRENCY", warn[0]["did_you_mean"])
	assert.Contains(t, warn[0]["msg"], "did you mean FRAUDSCORE_CONCURRENCY")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-exited:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("no exit after SIGTERM")
	}
	assert.Empty(t, logs.matching(msgIs("demo: publishing synthetic transactions")))
}
