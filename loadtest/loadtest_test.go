package loadtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/loadtest"
	"github.com/fraudscore/fraudscore/loadtest/bench"
)

// workerBin is the fraudscore binary built once for the integration tests.
var workerBin string

func TestMain(m *testing.M) {
	bin, err := testenv.Build("./cmd/fraudscore")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workerBin = bin
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// system starts an embedded JetStream server and n worker processes with
// env, and returns the server URL and the workers; everything stops at the
// end of the test.
func system(t *testing.T, n int, env ...string) (string, []*bench.Worker) {
	t.Helper()
	url := natstest.Start(t).ClientURL()
	var workers []*bench.Worker
	for i := range n {
		workers = append(workers, startWorker(t, url, append([]string{fmt.Sprintf("FRAUDSCORE_WORKER_ID=test-%d", i)}, env...)...))
	}
	return url, workers
}

// startWorker starts a worker process against url, stopped at the end of
// the test.
func startWorker(t *testing.T, url string, env ...string) *bench.Worker {
	t.Helper()
	var log bytes.Buffer
	w, err := bench.StartWorker(context.Background(), workerBin, url, testenv.ModelDir(t), env, &log)
	if err != nil {
		t.Fatalf("worker: %v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		if err := w.Stop(20 * time.Second); err != nil {
			t.Errorf("stop worker: %v", err)
		}
	})
	return w
}

// checkClean checks that the streams stored exactly one verdict for each of
// verdicts transactions and one dead letter for each of deadLetters, and
// that the latency probe saw every verdict.
func checkClean(t *testing.T, rep *loadtest.Report, verdicts, deadLetters int64) {
	t.Helper()
	var sum bytes.Buffer
	rep.WriteSummary(&sum)
	g := rep.Stored
	if g == nil || !rep.OK() || g.Verdicts != verdicts || g.DeadLetters != deadLetters || g.Expected != verdicts+deadLetters ||
		rep.Missing != 0 || rep.StoredDuplicates != 0 || rep.PublishErrors != 0 {
		t.Fatalf("want %d stored verdicts and %d dead letters, none missing or duplicated; got\n%s", verdicts, deadLetters, sum.String())
	}
	if rep.Matched != verdicts || rep.Latency.Count != verdicts {
		t.Errorf("latency probe saw %d verdicts (%d samples), want %d", rep.Matched, rep.Latency.Count, verdicts)
	}
}

func TestStreamExactlyOneVerdictEach(t *testing.T) {
	url, _ := system(t, 1)
	var progress bytes.Buffer
	// Every 100th transaction is poison: 30 dead letters, 2970 verdicts,
	// each checked by id in what the streams stored.
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Count: 3000, Seed: 7, PoisonEvery: 100, Progress: &progress, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, rep, 2970, 30)
	if rep.Stored.DeadLetterReasons[contracts.ReasonInvalid] != 30 || rep.Stored.Foreign != 0 {
		t.Errorf("dead letters by reason %v, foreign %d; want 30 invalid, no foreign", rep.Stored.DeadLetterReasons, rep.Stored.Foreign)
	}
	var truth int64
	for _, row := range rep.Confusion.ByScenario {
		for _, n := range row {
			truth += n
		}
	}
	if truth != 2970 || rep.Confusion.Fraud["approve"]+rep.Confusion.Fraud["review"]+rep.Confusion.Fraud["decline"] == 0 {
		t.Errorf("confusion matrix incomplete: %+v", rep.Confusion)
	}
	if rep.Confusion.ByScenario["legit"]["other"] != 0 {
		t.Errorf("unknown decisions: %+v", rep.Confusion.ByScenario)
	}

	// Open loop at a rate, probing latency on the verdict stream with an
	// ordered consumer, on the same system: the second run reads the
	// streams from where the first ended, so the first run's messages are
	// outside its range.
	rep, err = loadtest.Run(context.Background(), loadtest.Config{URL: url, Rate: 2000, Duration: 500 * time.Millisecond,
		Verdicts: loadtest.VerdictsStream, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, rep, rep.Sent, 0)
	if rep.Sent < 900 || rep.DuplicateDeliveries != 0 || rep.Stored.Foreign != 0 || rep.Stored.VerdictSeqs[0] != 2971 {
		t.Errorf("sent %d (want ~1000), duplicates %d, foreign %d (want 0), first verdict seq read %d (want 2971)",
			rep.Sent, rep.DuplicateDeliveries, rep.Stored.Foreign, rep.Stored.VerdictSeqs[0])
	}
}

// TestPopulationTraffic: with PopulationCards the run sends raw events of
// that many cards, which pay again and again (seen on the input subject),
// without upstream aggregates, and every one gets its verdict.
func TestPopulationTraffic(t *testing.T) {
	url, _ := system(t, 1)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	cards, withAggregates, seen := map[string]int{}, 0, 0
	sub, err := nc.Subscribe(contracts.SubjectTransactions, func(m *nats.Msg) {
		var ev contracts.TransactionEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		cards[ev.CardToken]++
		seen++
		if ev.Aggregates != nil {
			withAggregates++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Count: 2000, PopulationCards: 40, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, rep, 2000, 0)
	mu.Lock()
	defer mu.Unlock()
	if seen != 2000 || len(cards) > 40 || len(cards) < 20 || withAggregates != 0 {
		t.Errorf("saw %d events of %d cards (want 2000 events of at most 40 cards), %d with upstream aggregates (want 0)", seen, len(cards), withAggregates)
	}
}

func TestRequestReply(t *testing.T) {
	url, _ := system(t, 1)
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Mode: loadtest.ModeRequest, Count: 500, Concurrency: 8, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Matched != 500 || rep.Missing != 0 || len(rep.Errors) != 0 || rep.Latency.Count != 500 {
		var sum bytes.Buffer
		rep.WriteSummary(&sum)
		t.Fatalf("want 500 replies, no errors; got\n%s", sum.String())
	}
}

// TestRunFailsOnWhatTheStreamLacks points the stored check at a stream
// that holds none of the run's verdicts: the probe saw every verdict, the
// report must still fail, naming them missing.
func TestRunFailsOnWhatTheStreamLacks(t *testing.T) {
	url, _ := system(t, 1)
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Count: 200, VerdictStream: "FRAUD_DLQ", MaxDuration: time.Minute,
		Store: loadtest.StoreCheck{Quiet: 200 * time.Millisecond, Patience: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Matched != 200 {
		t.Fatalf("probe saw %d verdicts, want 200 (the fault is in the check, not the run)", rep.Matched)
	}
	if rep.OK() || rep.Stored == nil || rep.Missing != 200 || len(rep.Stored.Samples[loadtest.ProblemMissing]) == 0 {
		t.Fatalf("report passed or miscounted a stream without verdicts: ok %v missing %d stored %+v", rep.OK(), rep.Missing, rep.Stored)
	}
}

// TestTwoWorkersBothWork runs two workers on the shared consumer, both
// ready before the first transaction, and checks from each worker's own
// counter that both acknowledged transactions, and from the streams that
// each transaction has exactly one verdict.
func TestTwoWorkersBothWork(t *testing.T) {
	url, workers := system(t, 2)
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Rate: 4000, Count: 4000, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, rep, 4000, 0)
	acked := waitAcked(t, workers, 4000)
	for i, n := range acked {
		t.Logf("worker %d acknowledged %.0f transactions", i, n)
		if n == 0 {
			t.Errorf("worker %d did no work", i)
		}
	}
}

// waitAcked returns each worker's fraudscore_messages_acked_total once they
// add up to want. A worker acks an input after its verdict's PubAck, so the
// streams can hold every verdict a moment before the last acks are sent and
// counted: the wait is bounded, not timed.
func waitAcked(t *testing.T, workers []*bench.Worker, want float64) []float64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		acked := make([]float64, len(workers))
		total := 0.0
		for i, w := range workers {
			n, err := w.Metric("fraudscore_messages_acked_total")
			if err != nil {
				t.Fatalf("worker %d: %v", i, err)
			}
			acked[i], total = n, total+n
		}
		// Each stored verdict is acknowledged by exactly one worker (a
		// redelivery would count twice and its verdict be de-duplicated).
		if total >= want {
			return acked
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers acknowledged %v transactions, want %.0f in all", acked, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPassThroughBacklog sends to a system whose only (pass-through) worker
// is stopped, then starts one to clear the backlog: the bench's backlog
// measurement, with pass-through verdicts (named by input sequence) checked
// against the stream.
func TestPassThroughBacklog(t *testing.T) {
	url, workers := system(t, 1, "FRAUDSCORE_PASS_THROUGH=true")
	// The first worker created the topology; stopped, it leaves a backlog.
	if err := workers[0].Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	var late *bench.Worker
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Count: 4000, PassThrough: true, MaxDuration: time.Minute,
		AfterSend: func(ctx context.Context) error {
			late = startWorker(t, url, "FRAUDSCORE_PASS_THROUGH=true", "FRAUDSCORE_WORKER_ID=test-late")
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, rep, 4000, 0)
	if late == nil || rep.BacklogSeconds <= 0 || rep.BacklogThroughput <= 0 {
		t.Errorf("backlog not measured: started %v, %.3fs, %.0f/s", late != nil, rep.BacklogSeconds, rep.BacklogThroughput)
	}
	if acked := waitAcked(t, []*bench.Worker{late}, 4000); acked[0] < 4000 {
		t.Errorf("late worker acknowledged %.0f, want the whole backlog of 4000", acked[0])
	}
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
		{"negative population", loadtest.Config{URL: "nats://127.0.0.1:4222", Count: 1, PopulationCards: -1}, loadtest.ErrConfig},
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
