package backlog_test

import (
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/tools/k8s/backlog"
)

// TestBacklog: on a real embedded JetStream server, the worker's topology is
// created, a published backlog shows as the consumer's num_pending (nothing
// consumes it), and a purge clears it.
func TestBacklog(t *testing.T) {
	s := natstest.Start(t)
	js := natstest.JetStream(t, s.ClientURL())
	cfg, err := backlog.Config(nil)
	if err != nil {
		t.Fatal(err)
	}
	top, err := backlog.Ensure(t.Context(), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if top.Stream != "TRANSACTIONS" || top.Consumer != "fraudscore" || top.Subject != "payments.transactions.k8s-e2e" {
		t.Fatalf("topology %+v", top)
	}
	lag, err := backlog.ReadLag(t.Context(), js, cfg)
	if err != nil || lag.Lag != 0 {
		t.Fatalf("empty stream: lag %+v, %v", lag, err)
	}
	const n = 2500
	if err := backlog.Publish(t.Context(), js, cfg, n, 7); err != nil {
		t.Fatal(err)
	}
	lag, err = backlog.ReadLag(t.Context(), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if lag.NumPending != n || lag.NumAckPending != 0 || lag.Lag != n || lag.StreamMsgs != n {
		t.Fatalf("after publishing %d: %+v", n, lag)
	}
	purged, err := backlog.Purge(t.Context(), js, cfg)
	if err != nil || purged != n {
		t.Fatalf("purged %d, %v; want %d", purged, err, n)
	}
	lag, err = backlog.ReadLag(t.Context(), js, cfg)
	if err != nil || lag.Lag != 0 || lag.StreamMsgs != 0 {
		t.Fatalf("after purge: %+v, %v", lag, err)
	}
}
