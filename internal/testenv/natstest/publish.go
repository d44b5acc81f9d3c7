package natstest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
)

// PatientPublish lets an async publish wait for room in the client's window
// for as long as a loaded machine needs: with the default stall wait (200 ms)
// a publish on a busy test machine fails instead of waiting.
var PatientPublish = jetstream.WithStallWait(30 * time.Second)

// PublishEvents publishes evs as JSON on subject with async publishes (each
// with PatientPublish) and waits until the server has acknowledged all of
// them. It fails t on any publish error or when the acknowledgements take
// longer than 30 seconds. Call it from the test's goroutine.
func PublishEvents(t testing.TB, js jetstream.JetStream, subject string, evs []contracts.TransactionEvent) {
	t.Helper()
	for i := range evs {
		data, err := json.Marshal(&evs[i])
		if err != nil {
			t.Fatalf("natstest: encode event %d: %v", i, err)
		}
		if _, err := js.PublishAsync(subject, data, PatientPublish); err != nil {
			t.Fatalf("natstest: publish event %d on %s: %v", i, subject, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatalf("natstest: %d publishes on %s not acknowledged in 30s", js.PublishAsyncPending(), subject)
	}
}

// PublishVerdicts publishes vds as a worker does: each encoded by
// contracts' AppendJSON on prefix+decision with its transaction id as
// Nats-Msg-Id, synchronously, so that each is stored (in order) when it
// returns. It fails t on any publish error.
func PublishVerdicts(t testing.TB, js jetstream.JetStream, prefix string, vds []contracts.Verdict) {
	t.Helper()
	var buf []byte
	for i := range vds {
		buf = vds[i].AppendJSON(buf[:0])
		subject := contracts.VerdictSubject(prefix, vds[i].Decision)
		if _, err := js.Publish(context.Background(), subject, buf, jetstream.WithMsgID(vds[i].TransactionID)); err != nil {
			t.Fatalf("natstest: publish verdict %d on %s: %v", i, subject, err)
		}
	}
}
