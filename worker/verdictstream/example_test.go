package verdictstream_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/embedded"
	"github.com/fraudscore/fraudscore/worker/verdictstream"
)

// Read the last two declines stored in VERDICTS. The example starts its own
// server and stores three verdicts as a worker would; against a deployment,
// connect with worker.Connect instead.
func Example() {
	dir, _ := os.MkdirTemp("", "verdictstream-example")
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
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: verdictstream.DefaultStream, Subjects: []string{contracts.SubjectVerdicts}}); err != nil {
		fmt.Println(err)
		return
	}
	for i, d := range []contracts.Decision{contracts.DecisionDecline, contracts.DecisionApprove, contracts.DecisionDecline} {
		vd := contracts.Verdict{
			SchemaVersion: contracts.VerdictSchemaV1, TransactionID: fmt.Sprintf("tx-%d", i), Decision: d,
			Score: 0.3 * float64(i+1), ModelVersion: "v20261127_135446", PolicyVersion: "p1", ScoredAt: time.Now().UTC(),
		}
		if _, err := js.Publish(ctx, contracts.VerdictSubject(contracts.SubjectVerdictsPrefix, d), vd.AppendJSON(nil)); err != nil {
			fmt.Println(err)
			return
		}
	}

	st, err := verdictstream.Read(ctx, js, verdictstream.Options{Last: 2, Decisions: []contracts.Decision{contracts.DecisionDecline}},
		func(m verdictstream.Meta, vd *contracts.Verdict) error {
			fmt.Printf("seq %d %s: %s %s score %.1f\n", m.Sequence, m.Subject, vd.TransactionID, vd.Decision, vd.Score)
			return nil
		})
	fmt.Println(st.Verdicts, "verdicts,", st.Undecodable, "undecodable, err:", err)
	// Output:
	// seq 1 fraud.verdicts.decline: tx-0 decline score 0.3
	// seq 3 fraud.verdicts.decline: tx-2 decline score 0.9
	// 2 verdicts, 0 undecodable, err: <nil>
}
