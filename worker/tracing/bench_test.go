package tracing_test

import (
	"context"
	"testing"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/otlptest"
	"github.com/fraudscore/fraudscore/worker/tracing"
)

// BenchmarkMessage is the tracing cost of one message as the worker pays
// it: Start on the incoming headers, Inject into the verdict's headers, End.
// off/* is the default (no export); on/* exports to a real OTLP/HTTP
// receiver in the same process (batched, as in production), so its figure
// includes the exporter's encoding and the receiver's decoding of the
// batches on the same cores.
func BenchmarkMessage(b *testing.B) {
	withTP := map[string][]string{contracts.HeaderMsgID: {"t1"}, contracts.HeaderTraceparent: {incomingTP}}
	without := map[string][]string{contracts.HeaderMsgID: {"t1"}}
	run := func(b *testing.B, tr *tracing.Tracer, in map[string][]string) {
		b.ReportAllocs()
		for b.Loop() {
			out := make(map[string][]string, 8)
			sp := tr.Start(in, tracing.Transaction, "payments.transactions.card")
			sp.Inject(out)
			sp.End(tracing.Outcome{TransactionID: "t1", Decision: "approve", ModelVersion: "v1"})
		}
	}
	b.Run("off/no-traceparent", func(b *testing.B) { run(b, nil, without) })
	b.Run("off/traceparent", func(b *testing.B) { run(b, nil, withTP) })
	for _, c := range []struct {
		name string
		in   map[string][]string
	}{{"on/no-traceparent", without}, {"on/traceparent", withTP}} {
		b.Run(c.name, func(b *testing.B) {
			rcv := otlptest.Start(b)
			b.Setenv(tracing.EnvEndpoint, rcv.URL())
			tr, err := tracing.FromEnv(context.Background(), "fraudscore", "bench")
			if err != nil || !tr.Exporting() {
				b.Fatal(tr, err)
			}
			run(b, tr, c.in)
			b.StopTimer()
			if err := tr.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
			// The batch processor drops spans when its queue is full (it
			// never blocks scoring): the share that reached the receiver.
			b.ReportMetric(float64(len(rcv.Spans(b)))/float64(b.N), "exported/op")
		})
	}
}
