package worker_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker"
)

// A worker started against a fresh three-node cluster of which one node
// runs (no quorum, so no meta leader) retries its setup, not ready, instead
// of failing Run; once the other nodes join it becomes ready and scores.
func TestSetupWaitsForFreshClusterToElectMetaLeader(t *testing.T) {
	cl := natstest.NewCluster(t, 3)
	cl.Start(0)
	cfg := testConfig(t)
	cfg.Replicas = 3
	r := launchWorker(t, cl.ClientURL(), cfg, nil,
		worker.SetupRetry{AttemptTimeout: 2 * time.Second, MinDelay: 100 * time.Millisecond, MaxDelay: time.Second})

	// The fault bit: setup attempts failed transiently, first unanswered,
	// then (once the node has been leaderless for a while) answered "JetStream
	// system temporarily unavailable"; the worker says why it is not ready,
	// and Run is still going.
	require.Eventually(t, func() bool { return metricValue(t, r.metrics.SetupRetries) >= 1 },
		60*time.Second, 20*time.Millisecond, "no transient setup failure counted against a cluster without a meta leader")
	require.Eventually(t, func() bool {
		err := r.w.Ready()
		return err != nil && strings.Contains(err.Error(), "err_code=10008")
	}, 90*time.Second, 20*time.Millisecond, "the leaderless node never answered 10008")
	err := r.w.Ready()
	assert.Contains(t, err.Error(), "JetStream setup retrying")
	assert.Zero(t, metricValue(t, r.metrics.Ready))
	select {
	case <-r.done:
		t.Fatalf("Run returned while the cluster formed: %v", r.err)
	default:
	}

	cl.Start(1)
	cl.Start(2)
	require.Eventually(t, func() bool { return r.w.Ready() == nil }, 120*time.Second, 50*time.Millisecond,
		"worker never ready after the cluster formed")
	// The test's own client may land on a node that joined a moment ago
	// and does not answer the JetStream API yet ("no responders"): wait
	// until every node follows the meta leader, as a client should.
	natstest.WaitJetStreamLeader(t, 60*time.Second, cl.Server(0), cl.Server(1), cl.Server(2))

	_, js := connect(t, cl.ClientURL())
	ev := events(41, 1)
	natstest.PublishEvents(t, js, testSubject, ev)
	waitCount(t, js, cfg.VerdictStream, 1, 60*time.Second)
	got := verdictsByID(t, js, cfg.VerdictStream)
	require.Contains(t, got, ev[0].TransactionID)
	assert.True(t, got[ev[0].TransactionID].Decision.Valid())
	// Drain while the whole cluster still runs (cleanups stop the later
	// nodes first).
	if err := r.stop(t); err != nil {
		t.Logf("drain: %v", err)
	}
}

// A permanent setup error (the verdict stream asks for more storage than the
// server has) ends Run at once, unretried, with the server's API error.
func TestSetupFailsFastOnInsufficientStorage(t *testing.T) {
	const errCodeStorageResourcesExceeded jetstream.ErrorCode = 10047 // nats-server errors.json
	opts := natstest.ServerOptions(t)
	opts.JetStreamMaxStore = 64 << 20
	s := natstest.StartOptions(t, opts)
	cfg := testConfig(t)
	cfg.VerdictMaxBytes = 1 << 30
	// The fault is in place: the stream cannot fit in the server's store.
	require.Greater(t, cfg.VerdictMaxBytes, s.JetStreamConfig().MaxStore)

	r := launchWorker(t, s.ClientURL(), cfg, nil, worker.SetupRetry{})
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("Run still running against a permanent error; Ready: %v", r.w.Ready())
	}
	var apiErr *jetstream.APIError
	require.ErrorAs(t, r.err, &apiErr)
	assert.Equal(t, errCodeStorageResourcesExceeded, apiErr.ErrorCode, "%v", r.err)
	assert.Contains(t, r.err.Error(), cfg.VerdictStream)
	assert.Zero(t, metricValue(t, r.metrics.SetupRetries), "a permanent error is not retried")
	assert.Error(t, r.w.Ready())
}

// With FRAUDSCORE_ENSURE_TOPOLOGY=true the worker refuses, and stops, rather
// than update a stream of its name that mirrors another (an update without the
// mirror would promote it to an origin) or has other storage (which the
// server cannot change), and leaves the stream as it was.
func TestSetupRefusesBreakingUpdates(t *testing.T) {
	for _, c := range []struct {
		name   string
		create func(t *testing.T, js jetstream.JetStream, cfg *worker.Config)
		want   string
		check  func(t *testing.T, info *jetstream.StreamInfo)
	}{
		{"mirror", func(t *testing.T, js jetstream.JetStream, cfg *worker.Config) {
			_, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "ORIGIN", Subjects: []string{"origin.>"}})
			require.NoError(t, err)
			_, err = js.CreateStream(t.Context(), jetstream.StreamConfig{Name: cfg.DLQStream, Mirror: &jetstream.StreamSource{Name: "ORIGIN"}})
			require.NoError(t, err)
		}, "mirrors ORIGIN", func(t *testing.T, info *jetstream.StreamInfo) {
			assert.NotNil(t, info.Config.Mirror, "the mirror was promoted")
		}},
		{"memory", func(t *testing.T, js jetstream.JetStream, cfg *worker.Config) {
			_, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: cfg.DLQStream, Subjects: []string{cfg.DLQPrefix + ">"}, Storage: jetstream.MemoryStorage})
			require.NoError(t, err)
		}, "has memory storage", func(t *testing.T, info *jetstream.StreamInfo) {
			assert.Equal(t, jetstream.MemoryStorage, info.Config.Storage)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := natstest.Start(t)
			cfg := testConfig(t)
			js := natstest.JetStream(t, s.ClientURL())
			c.create(t, js, cfg)
			r := launchWorker(t, s.ClientURL(), cfg, nil, worker.SetupRetry{})
			select {
			case <-r.done:
			case <-time.After(60 * time.Second):
				t.Fatalf("Run still running against a stream it must not update; Ready: %v", r.w.Ready())
			}
			require.ErrorIs(t, r.err, worker.ErrConfig)
			assert.Contains(t, r.err.Error(), cfg.DLQStream+" "+c.want)
			st, err := js.Stream(t.Context(), cfg.DLQStream)
			require.NoError(t, err)
			c.check(t, st.CachedInfo())
		})
	}
}

// Every series whose labels the worker knows at start is exported at 0
// before any traffic, so that increase() and rate() see the first dead
// letter of a reason and the first scoring error (a series born at 1 shows
// no increase).
func TestMetricsExportedAtZeroBeforeTraffic(t *testing.T) {
	s := natstest.Start(t)
	cfg := testConfig(t)
	r := startWorker(t, s.ClientURL(), cfg, nil)
	version := testenv.BundledModel(t).Version

	h := worker.SideHandler(r.reg, nil, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	lines := map[string]bool{}
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		lines[l] = true
	}
	want := []string{
		"fraudscore_messages_received_total 0",
		"fraudscore_setup_retries_total 0",
		`model_predictions_total{model_version="` + version + `",status="success"} 0`,
		`model_predictions_total{model_version="` + version + `",status="error"} 0`,
		`fraud_predictions_total{model_version="` + version + `"} 0`,
	}
	for _, reason := range contracts.DeadLetterReasons {
		want = append(want, `fraudscore_dead_letters_total{reason="`+reason+`"} 0`)
	}
	for _, reason := range []string{"score_error", "publish_error", "puback_error", "dlq_error"} {
		want = append(want, `fraudscore_messages_nacked_total{reason="`+reason+`"} 0`)
	}
	for _, code := range []string{worker.CodeOK, worker.CodeBadRequest, worker.CodeTooLarge, worker.CodeInternal, worker.CodeUnavailable} {
		want = append(want, `fraudscore_requests_total{code="`+code+`"} 0`)
	}
	for _, l := range want {
		assert.True(t, lines[l], "missing %s", l)
	}

	// A new model version brings its own zeros.
	r.metrics.SetModel("v20991231_000000")
	assert.Zero(t, metricValue(t, r.metrics.Predictions.WithLabelValues("v20991231_000000", "error")))
	assert.Equal(t, 4, seriesCount(t, r.metrics.Predictions), "success and error of both versions")
}

// metricValue is the value of the one series c collects (a counter or a
// gauge).
func metricValue(t testing.TB, c prometheus.Collector) float64 {
	t.Helper()
	ms := collect(t, c)
	require.Len(t, ms, 1)
	if g := ms[0].GetGauge(); g != nil {
		return g.GetValue()
	}
	return ms[0].GetCounter().GetValue()
}

// seriesCount is the number of series c collects.
func seriesCount(t testing.TB, c prometheus.Collector) int {
	t.Helper()
	return len(collect(t, c))
}

func collect(t testing.TB, c prometheus.Collector) []*dto.Metric {
	t.Helper()
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	var out []*dto.Metric
	for m := range ch {
		var pb dto.Metric
		require.NoError(t, m.Write(&pb))
		out = append(out, &pb)
	}
	return out
}
