package natstest

import (
	"context"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
)

// DeadLetter is a dead letter as a worker stores it, for PublishDeadLetters.
type DeadLetter struct {
	// Reason is one of contracts.DeadLetterReasons; Subject the input subject
	// the payload came from (default contracts.SubjectTransactionsPrefix+"card").
	Reason, Subject string
	// TransactionID, when set, is the Fraudscore-Dlq-Transaction-Id header.
	TransactionID string
	Data          []byte
	// Header adds headers (contracts.HeaderRedacted, traceparent, ...).
	Header nats.Header
}

// PublishDeadLetters stores dls in the dead-letter stream under
// prefix+reason with the headers a worker sets (reason, detail, original
// subject, input sequence 1000+i, deliveries, worker id "test-worker", a
// unique Msg-Id), synchronously and in order, and returns their stream
// sequences. It fails t on any publish error.
func PublishDeadLetters(t testing.TB, js jetstream.JetStream, prefix string, dls []DeadLetter) []uint64 {
	t.Helper()
	seqs := make([]uint64, len(dls))
	for i, dl := range dls {
		subject := dl.Subject
		if subject == "" {
			subject = contracts.SubjectTransactionsPrefix + "card"
		}
		deliveries := "1"
		if dl.Reason == contracts.ReasonMaxDeliveries {
			deliveries = "8"
		}
		m := &nats.Msg{Subject: prefix + dl.Reason, Data: dl.Data, Header: nats.Header{
			contracts.HeaderMsgID:         []string{"test-dlq-" + nats.NewInbox()},
			contracts.HeaderDLQReason:     []string{dl.Reason},
			contracts.HeaderDLQDetail:     []string{"test dead letter " + dl.Reason},
			contracts.HeaderDLQSubject:    []string{subject},
			contracts.HeaderDLQStreamSeq:  []string{strconv.Itoa(1000 + i)},
			contracts.HeaderDLQDeliveries: []string{deliveries},
			contracts.HeaderDLQWorker:     []string{"test-worker"},
		}}
		if dl.TransactionID != "" {
			m.Header.Set(contracts.HeaderDLQTransactionID, dl.TransactionID)
		}
		for k, v := range dl.Header {
			m.Header[k] = v
		}
		ack, err := js.PublishMsg(context.Background(), m)
		if err != nil {
			t.Fatalf("natstest: store dead letter %d on %s: %v", i, m.Subject, err)
		}
		seqs[i] = ack.Sequence
	}
	return seqs
}
