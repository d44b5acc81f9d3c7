package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker"
)

// BenchmarkVerdictIndex measures how fast one worker's label join fills the
// verdict index from a pre-filled VERDICTS stream (embedded server in the
// same process, file storage): the time from the worker's start to the last
// verdict indexed, reported as indexed/s, with one put at a time and with
// the default FRAUDSCORE_VERDICT_INDEX_CONCURRENCY. Use -benchtime=20000x.
func BenchmarkVerdictIndex(b *testing.B) {
	for _, c := range []int{1, worker.DefaultLabelConfig().IndexConcurrency} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) { benchVerdictIndex(b, c) })
	}
}

func benchVerdictIndex(b *testing.B, concurrency int) {
	s := natstest.Start(b)
	defer s.Shutdown()
	cfg := testConfig(b)
	r := startWorker(b, s.ClientURL(), cfg, nil) // creates the worker's streams
	require.NoError(b, r.stop(b))
	_, js := connect(b, s.ClientURL())
	at := time.Now().UTC()
	vd := contracts.Verdict{SchemaVersion: contracts.VerdictSchemaV1, Decision: contracts.DecisionApprove, Score: 0.1,
		ModelVersion: "v1", PolicyVersion: "v1", ScoredAt: at}
	var buf []byte
	for i := 0; i < b.N; i++ {
		vd.TransactionID = fmt.Sprintf("bench-%d", i)
		buf = vd.AppendJSON(buf[:0])
		if _, err := js.PublishAsync(contracts.VerdictSubject(cfg.VerdictPrefix, vd.Decision), buf,
			jetstream.WithStallWait(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		b.Fatal("pre-fill not stored")
	}
	lc := testLabelConfig()
	lc.IndexConcurrency = concurrency
	b.ResetTimer()
	start := time.Now()
	m := launchLabelWorker(b, s.ClientURL(), cfg, lc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for counterValue(m.Labels.Indexed) < float64(b.N) {
		if ctx.Err() != nil {
			b.Fatalf("indexed %v of %d", counterValue(m.Labels.Indexed), b.N)
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "indexed/s")
}

// counterValue reads a counter's value.
func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var d dto.Metric
	_ = c.Write(&d)
	return d.GetCounter().GetValue()
}
