package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker"
)

// testConfig returns the default configuration tuned for fast tests.
func testConfig(t testing.TB) *worker.Config {
	t.Helper()
	cfg := worker.DefaultConfig()
	cfg.AckWait = 2 * time.Second
	cfg.BackOff = nil
	cfg.MaxDeliver = 3
	cfg.NakDelay = 50 * time.Millisecond
	cfg.NakDelayMax = 200 * time.Millisecond
	cfg.DrainTimeout = 15 * time.Second
	cfg.BacklogPoll = 200 * time.Millisecond
	cfg.PullExpiry = time.Second
	cfg.WorkerID = "test-worker"
	require.NoError(t, cfg.Validate())
	return &cfg
}

func newScorer(t testing.TB) *scorer.Scorer {
	t.Helper()
	sc, err := scorer.New(testenv.BundledModel(t), scorer.Options{})
	require.NoError(t, err)
	return sc
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// running is a worker running in the background.
type running struct {
	w       *worker.Worker
	nc      *nats.Conn
	cancel  context.CancelFunc
	done    chan struct{} // closed when Run returned
	err     error         // Run's result, valid after done
	metrics *worker.Metrics
	reg     *prometheus.Registry
}

// stop cancels the worker, waits for its drain, and closes its connection.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
	}
	r.nc.Close()
	return r.err
}

// startWorker runs a worker and waits until it is ready.
func startWorker(t testing.TB, url string, cfg *worker.Config, sc worker.Scorer) *running {
	t.Helper()
	r := launchWorker(t, url, cfg, sc, worker.SetupRetry{})
	require.Eventually(t, func() bool { return r.w.Ready() == nil }, 20*time.Second, 20*time.Millisecond, "worker never ready")
	return r
}

// launchWorker runs a worker without waiting for it. A nil sc is the
// bundled model; a *scorer.Scorer's version is recorded with SetModel, as
// the fraudscore command does when it loads a model.
func launchWorker(t testing.TB, url string, cfg *worker.Config, sc worker.Scorer, retry worker.SetupRetry) *running {
	t.Helper()
	return launchWorkerLogging(t, url, cfg, sc, retry, testLogger(t))
}

// launchWorkerLogging is launchWorker with the worker's logger given, for a
// test that reads what the worker logs.
func launchWorkerLogging(t testing.TB, url string, cfg *worker.Config, sc worker.Scorer, retry worker.SetupRetry, log *slog.Logger) *running {
	t.Helper()
	return launchWorkerEnriched(t, url, cfg, sc, retry, log, nil)
}

// launchWorkerEnriched is launchWorkerLogging with an Enricher (nil: none).
func launchWorkerEnriched(t testing.TB, url string, cfg *worker.Config, sc worker.Scorer, retry worker.SetupRetry, log *slog.Logger, en worker.Enricher) *running {
	t.Helper()
	if sc == nil {
		sc = newScorer(t)
	}
	reg := prometheus.NewRegistry()
	m := worker.NewMetrics(reg, "test", "test")
	if s, ok := sc.(*scorer.Scorer); ok {
		m.SetModel(s.Model().Version)
	}
	c := *cfg
	c.NATSURL = url
	nc, err := worker.Connect(&c, "test-worker", log, m)
	require.NoError(t, err)
	w, err := worker.New(worker.Options{Config: &c, Conn: nc, Scorer: sc, Decoder: contracts.NewValidator(),
		Metrics: m, Logger: log, Version: "1.0.0", SetupRetry: retry, Enricher: en})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, nc: nc, cancel: cancel, done: make(chan struct{}), metrics: m, reg: reg}
	go func() { r.err = w.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
		nc.Close()
	})
	return r
}

func connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return nc, js
}

// testSubject is the transaction subject the tests publish on.
const testSubject = contracts.SubjectTransactionsPrefix + "test"

// events generates n valid transactions stamped now.
func events(seed uint64, n int) []contracts.TransactionEvent {
	g := synthetic.New(synthetic.Config{Seed: seed, Now: time.Now, IDPrefix: fmt.Sprintf("t%d-", seed)})
	out := make([]contracts.TransactionEvent, n)
	for i := range out {
		out[i], _ = g.Next()
	}
	return out
}

func publishRaw(t testing.TB, js jetstream.JetStream, subject string, data []byte) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := js.Publish(ctx, subject, data)
	require.NoError(t, err)
	return ack.Sequence
}

// streamMsgs reads every message of a stream with an ordered consumer.
func streamMsgs(t testing.TB, js jetstream.JetStream, stream string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	n := int(info.State.Msgs)
	if n == 0 {
		return nil
	}
	oc, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	var out []jetstream.Msg
	for len(out) < n {
		batch, err := oc.Fetch(min(500, n-len(out)), jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		got := 0
		for m := range batch.Messages() {
			out = append(out, m)
			got++
		}
		if got == 0 {
			require.NoError(t, batch.Error())
			t.Fatalf("read %d of %d messages of %s", len(out), n, stream)
		}
	}
	return out
}

func streamCount(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	n, err := streamMsgCount(js, stream)
	require.NoError(t, err)
	return n
}

// streamMsgCount returns how many messages stream holds (0 when it does not
// exist).
func streamMsgCount(js jetstream.JetStream, stream string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// verdictsByID decodes every stored verdict and checks that no transaction
// has two.
func verdictsByID(t testing.TB, js jetstream.JetStream, stream string) map[string]contracts.Verdict {
	t.Helper()
	out := map[string]contracts.Verdict{}
	for _, m := range streamMsgs(t, js, stream) {
		var vd contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict(m.Data(), &vd))
		_, dup := out[vd.TransactionID]
		require.False(t, dup, "two verdicts stored for %s", vd.TransactionID)
		require.Equal(t, vd.TransactionID, m.Headers().Get(contracts.HeaderMsgID))
		require.Equal(t, vd.ModelVersion, m.Headers().Get(contracts.HeaderModelVersion))
		require.Equal(t, contracts.VerdictSubject("fraud.verdicts.", vd.Decision), m.Subject())
		out[vd.TransactionID] = vd
	}
	return out
}

func waitCount(t testing.TB, js jetstream.JetStream, stream string, want uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got uint64
	var err error
	for time.Now().Before(deadline) {
		// A failed read (a node restarting, a leader moving) is retried
		// until the deadline, and reported if it is the last word.
		if got, err = streamMsgCount(js, stream); err == nil && got >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("stream %s has %d messages, want %d (last error: %v)", stream, got, want, err)
}

// gathered is the sum of the counters of the named metric in reg, over the
// series that carry every label given as name, value pairs (every series
// with none).
func gathered(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m.GetLabel(), labels[i], labels[i+1]) {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// hasLabel reports whether pairs holds the label name="value".
func hasLabel(pairs []*dto.LabelPair, name, value string) bool {
	for _, l := range pairs {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
