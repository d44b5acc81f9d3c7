package worker_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker"
)

// The server goes away and comes back on the same store: readiness follows
// the connection, the worker resumes without help, and nothing is lost.
func TestServerRestartOnSameStore(t *testing.T) {
	cfg := testConfig(t)
	// A small pull buffer: with testConfig's 2 s AckWait and 3 deliveries, a
	// 1024-message buffer can outlive AckWait on a loaded machine (CI at load
	// 13 to 17): the likely cause of one CI failure where the input stream
	// still held messages 30 s after every verdict was stored (buffered
	// copies running out of deliveries while first copies were scored).
	cfg.BatchSize = 64
	dir, addr := t.TempDir(), testenv.FreeAddr(t)
	s := natstest.StartAt(t, dir, addr)
	r := startWorker(t, s.ClientURL(), cfg, nil)
	_, js := connect(t, s.ClientURL())

	first := events(6, 1000)
	natstest.PublishEvents(t, js, testSubject, first)
	s.Shutdown()
	s.WaitForShutdown()
	require.Eventually(t, func() bool { return r.w.Ready() != nil }, 10*time.Second, 20*time.Millisecond,
		"readiness must fail while disconnected")
	assert.Contains(t, r.w.Ready().Error(), "nats")
	assert.NoError(t, r.w.Healthy(), "a disconnect is not a reason to restart the pod")

	s2 := natstest.StartAt(t, dir, addr)
	defer s2.Shutdown()
	require.Eventually(t, func() bool { return r.w.Ready() == nil }, 20*time.Second, 20*time.Millisecond,
		"readiness must come back after reconnect")
	second := events(7, 1000)
	natstest.PublishEvents(t, js, testSubject, second)
	waitCount(t, js, cfg.VerdictStream, 2000, 90*time.Second)
	require.Eventually(t, func() bool { return streamCount(t, js, cfg.Stream) == 0 }, 90*time.Second, 50*time.Millisecond)
	got := verdictsByID(t, js, cfg.VerdictStream)
	for _, ev := range append(first, second...) {
		assert.Contains(t, got, ev.TransactionID)
	}
	assert.Len(t, got, 2000)
}

// A graceful drain under load: the first worker stops mid-stream, a second
// takes over, and every transaction has exactly one verdict.
func TestGracefulDrainUnderLoadLosesNothing(t *testing.T) {
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	r := startWorker(t, s.ClientURL(), cfg, nil)
	_, js := connect(t, s.ClientURL())

	evs := events(8, 6000)
	pubErr := make(chan error, 1)
	go func() {
		for i := range evs {
			data, _ := json.Marshal(&evs[i])
			if _, err := js.PublishAsync(testSubject, data, natstest.PatientPublish); err != nil {
				pubErr <- err
				return
			}
		}
		<-js.PublishAsyncComplete()
		pubErr <- nil
	}()
	require.Eventually(t, func() bool { return streamCount(t, js, cfg.VerdictStream) >= 500 }, 30*time.Second, 5*time.Millisecond)
	r.cancel()
	// Readiness fails as soon as the drain starts.
	require.Eventually(t, func() bool {
		err := r.w.Ready()
		return err != nil && strings.Contains(err.Error(), "draining")
	}, 5*time.Second, time.Millisecond)
	<-r.done
	require.NoError(t, r.err, "the drain finishes within its deadline")
	stoppedAt := streamCount(t, js, cfg.VerdictStream)
	t.Logf("first worker stored %d verdicts before draining", stoppedAt)

	require.NoError(t, <-pubErr)
	startWorker(t, s.ClientURL(), cfg, nil)
	waitCount(t, js, cfg.VerdictStream, uint64(len(evs)), 90*time.Second)
	require.Eventually(t, func() bool { return streamCount(t, js, cfg.Stream) == 0 }, 30*time.Second, 50*time.Millisecond)
	got := verdictsByID(t, js, cfg.VerdictStream)
	assert.Len(t, got, len(evs))
}

func TestSidePortProbesAndMetrics(t *testing.T) {
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	r := startWorker(t, s.ClientURL(), cfg, nil)
	_, js := connect(t, s.ClientURL())
	natstest.PublishEvents(t, js, testSubject, events(9, 200))
	waitCount(t, js, cfg.VerdictStream, 200, 30*time.Second)

	h := worker.SideHandler(r.reg, []worker.Checker{r.w.Healthy}, []worker.Checker{r.w.Ready})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	code, _ := get("/healthz")
	assert.Equal(t, 200, code)
	code, _ = get("/readyz")
	assert.Equal(t, 200, code)
	require.Eventually(t, func() bool {
		_, body := get("/metrics")
		return strings.Contains(body, "fraudscore_messages_acked_total 200")
	}, 10*time.Second, 20*time.Millisecond)
	_, body := get("/metrics")
	for _, name := range []string{
		`model_predictions_total{model_version="` + testenv.BundledModel(t).Version + `",status="success"} 200`,
		"model_prediction_latency_seconds_bucket", "fraud_predictions_total",
		"fraudscore_messages_received_total 200", `fraudscore_verdicts_total{decision="approve",source="stream"}`,
		"fraudscore_end_to_end_latency_seconds_bucket", "fraudscore_in_flight_messages 0",
		"fraudscore_consumer_num_pending", "fraudscore_consumer_num_ack_pending", "fraudscore_build_info",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		assert.Contains(t, body, name)
	}
	assert.NotContains(t, body, "t9-", "no transaction ids in labels")

	r.cancel()
	<-r.done
	code, body = get("/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "draining")
}
