package loadtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/loadtest"
	"github.com/fraudscore/fraudscore/loadtest/bench"
	"github.com/fraudscore/fraudscore/worker/embedded"
)

// workerBin is the fraudscore binary built once for the integration tests.
var workerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadtest-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workerBin = filepath.Join(dir, "fraudscore")
	cmd := exec.Command("go", "build", "-o", workerBin, "./cmd/fraudscore")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build fraudscore: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// system starts an embedded JetStream server and n worker processes with
// env, and returns the server URL; everything stops at the end of the test.
func system(t *testing.T, n int, env ...string) string {
	t.Helper()
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	models, err := filepath.Abs("../models")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var log bytes.Buffer
		w, err := bench.StartWorker(context.Background(), workerBin, ns.ClientURL(), models,
			append([]string{fmt.Sprintf("FRAUDSCORE_WORKER_ID=test-%d", i)}, env...), &log)
		if err != nil {
			t.Fatalf("worker: %v\n%s", err, log.String())
		}
		t.Cleanup(func() {
			if err := w.Stop(20 * time.Second); err != nil {
				t.Errorf("stop worker: %v", err)
			}
		})
	}
	return ns.ClientURL()
}

func checkClean(t *testing.T, rep *loadtest.Report, want int64) {
	t.Helper()
	var sum bytes.Buffer
	rep.WriteSummary(&sum)
	if rep.Matched != want || rep.Missing != 0 || rep.StoredDuplicates != 0 || rep.PublishErrors != 0 || !rep.OK() {
		t.Fatalf("want %d verdicts, none missing or duplicated; got\n%s", want, sum.String())
	}
	if rep.Latency.Count != want {
		t.Errorf("latency samples %d, want %d", rep.Latency.Count, want)
	}
}

func TestStreamExactlyOneVerdictEach(t *testing.T) {
	url := system(t, 1)
	var progress bytes.Buffer
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Count: 3000, Seed: 7, Progress: &progress, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, rep, 3000)
	if rep.StoredVerdicts != 3000 {
		t.Errorf("verdict stream grew by %d, want 3000", rep.StoredVerdicts)
	}
	var truth int64
	for _, row := range rep.Confusion.ByScenario {
		for _, n := range row {
			truth += n
		}
	}
	if truth != 3000 || rep.Confusion.Fraud["approve"]+rep.Confusion.Fraud["review"]+rep.Confusion.Fraud["decline"] == 0 {
		t.Errorf("confusion matrix incomplete: %+v", rep.Confusion)
	}
	if rep.Confusion.ByScenario["legit"]["other"] != 0 {
		t.Errorf("unknown decisions: %+v", rep.Confusion.ByScenario)
	}

	// Open loop at a rate, reading the verdict stream with an ordered
	// consumer, on the same system: ids of the second run are distinct.
	rep, err = loadtest.Run(context.Background(), loadtest.Config{URL: url, Rate: 2000, Duration: 500 * time.Millisecond,
		Verdicts: loadtest.VerdictsStream, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, rep, rep.Sent)
	if rep.Sent < 900 || rep.DuplicateDeliveries != 0 {
		t.Errorf("sent %d (want ~1000), duplicates %d", rep.Sent, rep.DuplicateDeliveries)
	}
}

func TestRequestReply(t *testing.T) {
	url := system(t, 1)
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Mode: loadtest.ModeRequest, Count: 500, Concurrency: 8, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, rep, 500)
	if len(rep.Errors) != 0 {
		t.Errorf("errors: %v", rep.Errors)
	}
}

func TestPassThroughAndBacklogTwoWorkers(t *testing.T) {
	// Two pass-through workers on one consumer; the transactions are sent
	// before the second starts, so both share a backlog.
	url := system(t, 1, "FRAUDSCORE_PASS_THROUGH=true")
	models, _ := filepath.Abs("../models")
	var started *bench.Worker
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Count: 4000, PassThrough: true, MaxDuration: time.Minute,
		AfterSend: func(ctx context.Context) error {
			w, err := bench.StartWorker(ctx, workerBin, url, models, []string{"FRAUDSCORE_PASS_THROUGH=true", "FRAUDSCORE_WORKER_ID=test-late"}, nil)
			started = w
			return err
		}})
	if started != nil {
		defer func() { _ = started.Stop(20 * time.Second) }()
	}
	if err != nil {
		t.Fatal(err)
	}
	// The point is exactly-once with two workers on one consumer. Whether a
	// backlog was left for the drain measurement depends on timing (the first
	// worker may clear it before the second starts on a fast machine), so it
	// is logged, not asserted.
	checkClean(t, rep, 4000)
	if rep.BacklogSeconds < 0 {
		t.Errorf("negative backlog drain time: %v", rep.BacklogSeconds)
	}
	t.Logf("backlog cleared in %.3fs (%.0f/s)", rep.BacklogSeconds, rep.BacklogThroughput)
}

func TestConfigRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  loadtest.Config
		want error
	}{
		{"remote", loadtest.Config{URL: "nats://10.0.0.1:4222", Count: 1}, loadtest.ErrRemote},
		{"remote in list", loadtest.Config{URL: "nats://127.0.0.1:4222,nats://example.com:4222", Count: 1}, loadtest.ErrRemote},
		{"unbounded", loadtest.Config{URL: "nats://127.0.0.1:4222"}, loadtest.ErrConfig},
		{"mode", loadtest.Config{URL: "nats://127.0.0.1:4222", Count: 1, Mode: "x"}, loadtest.ErrConfig},
		{"pass-through request", loadtest.Config{URL: "nats://127.0.0.1:4222", Count: 1, Mode: loadtest.ModeRequest, PassThrough: true}, loadtest.ErrConfig},
		{"too many", loadtest.Config{URL: "nats://127.0.0.1:4222", Count: loadtest.MaxMessages + 1}, loadtest.ErrConfig},
		{"over the cap", loadtest.Config{URL: "nats://127.0.0.1:4222", Duration: time.Hour}, loadtest.ErrConfig},
		{"pan-like run id", loadtest.Config{URL: "nats://127.0.0.1:4222", Count: 1, RunID: "4111111111111111"}, loadtest.ErrConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if err := cfg.Normalize(); !errors.Is(err, tc.want) {
				t.Fatalf("Normalize() = %v, want %v", err, tc.want)
			}
		})
	}
	for _, ok := range []string{"nats://127.0.0.1:4222", "localhost:4222", "nats://[::1]:4222", "127.0.0.2:1"} {
		if err := loadtest.CheckURL(ok, false); err != nil {
			t.Errorf("CheckURL(%q) = %v", ok, err)
		}
	}
	if err := loadtest.CheckURL("nats://10.1.2.3:4222", true); err != nil {
		t.Errorf("allow remote: %v", err)
	}
}

func TestRunIDNeverPANLike(t *testing.T) {
	for _, ts := range []time.Time{time.Unix(0, 0), time.Now(), time.Date(2099, 12, 31, 23, 59, 59, 999999999, time.UTC)} {
		id := loadtest.NewRunID(ts)
		run := 0
		for _, c := range id {
			if c >= '0' && c <= '9' {
				run++
				if run >= 13 {
					t.Fatalf("run id %q has a 13-digit run", id)
				}
			} else {
				run = 0
			}
		}
		if strings.ToLower(id) != id {
			t.Errorf("run id %q not lower case", id)
		}
		cfg := loadtest.Config{URL: "nats://127.0.0.1:4222", Count: 1, RunID: id}
		if err := cfg.Normalize(); err != nil {
			t.Errorf("run id %q refused: %v", id, err)
		}
	}
}
