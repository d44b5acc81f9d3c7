package deadletters_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/deadletters"
	"github.com/fraudscore/fraudscore/worker/embedded"
)

// Count the dead letters by reason, then plan a replay of the
// max_deliveries ones and run it. The example starts its own server with the
// worker's streams and stores three dead letters as a worker would; against a
// deployment, connect with worker.Connect instead.
func Example() {
	dir, _ := os.MkdirTemp("", "deadletters-example")
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(embedded.Options{StoreDir: dir, Listen: "127.0.0.1:-1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	cfg := worker.DefaultConfig()
	for _, sc := range worker.StreamConfigs(&cfg) {
		if _, err := js.CreateStream(ctx, sc); err != nil {
			fmt.Println(err)
			return
		}
	}
	event := `{"schema_version":"transaction_event.v1","transaction_id":"tx-1","event_time":"` +
		time.Now().UTC().Format(time.RFC3339) + `","card_token":"tok_1","amount_minor":1299,"currency":"EUR",` +
		`"merchant_id":"m_1","mcc":"5732","merchant_country":"DE","channel":"ecommerce","card_country":"DE",` +
		`"ip_country":"DE","account_age_days":30}`
	for _, dl := range []struct{ reason, data string }{
		{contracts.ReasonMaxDeliveries, event}, {contracts.ReasonMalformed, "not json"}, {contracts.ReasonMaxDeliveries, "{}"},
	} {
		m := nats.NewMsg(cfg.DLQPrefix + dl.reason)
		m.Data = []byte(dl.data)
		m.Header.Set(contracts.HeaderDLQReason, dl.reason)
		m.Header.Set(contracts.HeaderDLQSubject, "payments.transactions.card")
		if _, err := js.PublishMsg(ctx, m); err != nil {
			fmt.Println(err)
			return
		}
	}

	sum, err := deadletters.Summarise(ctx, js, deadletters.Selection{}, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range sum.Reasons {
		fmt.Printf("%s: %d (%d younger than %s)\n", r.Reason, r.Count, r.Ages[0], deadletters.AgeBounds[0])
	}

	r, err := deadletters.Plan(ctx, js, deadletters.ReplayOptions{
		Selection:   deadletters.Selection{Reasons: []string{contracts.ReasonMaxDeliveries}},
		InputStream: cfg.Stream, VerdictLookback: cfg.StreamMaxAge,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Count(deadletters.Ready), "ready,", r.Unresolved(), "cannot be replayed")
	if err := r.Execute(ctx, js); err != nil {
		fmt.Println(err)
		return
	}
	for _, it := range r.Items {
		fmt.Printf("seq %d %s: %s\n", it.Letter.Sequence, it.Letter.Reason, it.Outcome)
	}
	// Output:
	// malformed: 1 (1 younger than 1h0m0s)
	// max_deliveries: 2 (2 younger than 1h0m0s)
	// 1 ready, 1 cannot be replayed
	// seq 1 max_deliveries: replayed
	// seq 3 max_deliveries: still invalid
}
