package worker_test

import (
	"encoding/json"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

// BenchmarkPipeline measures the sustained throughput of one worker draining
// a pre-filled TRANSACTIONS stream into VERDICTS, with an embedded server in
// the same process (file storage, same 2 cores): the time from the worker's
// start to the last stored verdict, reported as verdicts/s. Use
// -benchtime=100000x; PassThrough skips decoding and scoring (the transport
// baseline). The full load tester (cmd/loadtest, make bench) measures with
// separate processes.
func BenchmarkPipeline(b *testing.B)            { benchPipeline(b, false, false, "") }
func BenchmarkPipelinePassThrough(b *testing.B) { benchPipeline(b, true, false, "") }

// BenchmarkPipelineMsgID publishes every transaction with a Nats-Msg-Id
// header, as producers do (the client then parses headers on every
// delivery): the baseline of BenchmarkPipelineTraceparent, which adds a W3C
// traceparent (span export off) that the worker carries to the verdict.
func BenchmarkPipelineMsgID(b *testing.B)       { benchPipeline(b, false, true, "") }
func BenchmarkPipelineTraceparent(b *testing.B) { benchPipeline(b, false, true, traceA) }

func benchPipeline(b *testing.B, passThrough, msgID bool, traceparent string) {
	cfg := testConfig(b)
	cfg.PassThrough = passThrough
	// Tuning experiments: FRAUDSCORE_BATCH_SIZE, _CONCURRENCY, _PUBLISH_WINDOW.
	for name, dst := range map[string]*int{"FRAUDSCORE_BATCH_SIZE": &cfg.BatchSize,
		"FRAUDSCORE_CONCURRENCY": &cfg.Concurrency, "FRAUDSCORE_PUBLISH_WINDOW": &cfg.PublishWindow} {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
			*dst = v
		}
	}
	cfg.AckWait = time.Minute
	cfg.StallTimeout = 2 * time.Minute
	s := natstest.Start(b)
	defer s.Shutdown()
	r := startWorker(b, s.ClientURL(), cfg, nil) // creates the topology
	require.NoError(b, r.stop(b))
	_, js := connect(b, s.ClientURL())
	evs := events(11, min(b.N, 20000))
	payloads := make([][]byte, len(evs))
	for i := range evs {
		payloads[i], _ = json.Marshal(&evs[i])
	}
	prefillStall := []jetstream.PublishOpt{jetstream.WithStallWait(time.Minute)}
	for i := 0; i < b.N; i++ {
		// Distinct ids: the verdict stream de-duplicates by transaction id.
		ev := evs[i%len(evs)]
		if i >= len(evs) {
			ev.TransactionID = ev.TransactionID + "-" + itoa(i)
			payloads[i%len(evs)], _ = json.Marshal(&ev)
		}
		m := &nats.Msg{Subject: contracts.SubjectTransactionsPrefix + "bench", Data: payloads[i%len(evs)]}
		if msgID {
			m.Header = nats.Header{contracts.HeaderMsgID: {ev.TransactionID}}
		}
		if traceparent != "" {
			m.Header.Set(contracts.HeaderTraceparent, traceparent)
		}
		// The stall wait lets the pre-fill ride out a slow server (a loaded
		// machine) instead of failing at the publish window.
		if _, err := js.PublishMsgAsync(m, prefillStall...); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	r = startWorker(b, s.ClientURL(), cfg, nil)
	waitCountQuiet(b, js, cfg.VerdictStream, uint64(b.N), 10*time.Minute)
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "verdicts/s")
	// Cores busy in this process (server and worker) while draining: 2.0
	// means CPU-bound on this machine, well below means waiting.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/el.Seconds(), "cores")
	_ = r
}

func waitCountQuiet(b *testing.B, js jetstream.JetStream, stream string, want uint64, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if streamCount(b, js, stream) >= want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("timeout waiting for %d messages in %s", want, stream)
}

func itoa(i int) string {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(buf[n:])
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
