package deadletters_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/deadletters"
)

const (
	pan         = "4111111111111111" // a test card number (passes Luhn)
	traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

// topology starts a server with the worker's four streams and returns a
// JetStream context on it and the worker configuration.
func topology(t *testing.T) (jetstream.JetStream, worker.Config) {
	t.Helper()
	js := natstest.JetStream(t, natstest.Start(t).ClientURL())
	cfg := worker.DefaultConfig()
	for _, sc := range worker.StreamConfigs(&cfg) {
		_, err := js.CreateStream(context.Background(), sc)
		require.NoError(t, err)
	}
	return js, cfg
}

// events returns n valid events as JSON, ids <prefix>0..
func events(t *testing.T, prefix string, n int) ([][]byte, []string) {
	t.Helper()
	g := synthetic.New(synthetic.Config{Seed: 3, Now: time.Now, IDPrefix: prefix})
	var out [][]byte
	var ids []string
	for range n {
		ev, _ := g.Next()
		b, err := json.Marshal(&ev)
		require.NoError(t, err)
		require.NoError(t, contracts.NewValidator().DecodeEvent(b, new(contracts.TransactionEvent)))
		out = append(out, b)
		ids = append(ids, ev.TransactionID)
	}
	return out, ids
}

// fill stores, in order (sequences 1..7): three max_deliveries letters of
// valid events (ids[0..2]), a malformed one, an invalid one naming tx-bad,
// a second max_deliveries letter of ids[0], and a malformed one holding a
// card number.
func fill(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	evs, ids := events(t, "dl-", 3)
	natstest.PublishDeadLetters(t, js, contracts.SubjectDeadLettersPrefix, []natstest.DeadLetter{
		{Reason: contracts.ReasonMaxDeliveries, Data: evs[0]},
		{Reason: contracts.ReasonMaxDeliveries, Data: evs[1], Subject: "payments.transactions.pos",
			Header: nats.Header{contracts.HeaderTraceparent: []string{traceparent}}},
		{Reason: contracts.ReasonMaxDeliveries, Data: evs[2]},
		{Reason: contracts.ReasonMalformed, Data: []byte("not json\x00")},
		{Reason: contracts.ReasonInvalid, Data: []byte(`{"transaction_id":"tx-bad","amount_minor":-1}`), TransactionID: "tx-bad"},
		{Reason: contracts.ReasonMaxDeliveries, Data: evs[0]},
		{Reason: contracts.ReasonMalformed, Data: []byte(`{"card":"` + pan + `"`)},
	})
	return ids
}

func seqsOf(t *testing.T, js jetstream.JetStream, s deadletters.Selection) []uint64 {
	t.Helper()
	var seqs []uint64
	n, err := deadletters.Read(context.Background(), js, s, func(l *deadletters.Letter) error {
		seqs = append(seqs, l.Sequence)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, len(seqs), n)
	return seqs
}

func TestReadSelects(t *testing.T) {
	js, _ := topology(t)
	ids := fill(t, js)
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7}, seqsOf(t, js, deadletters.Selection{}))
	assert.Equal(t, []uint64{4, 5, 7}, seqsOf(t, js, deadletters.Selection{Reasons: []string{"malformed", "invalid"}}))
	assert.Equal(t, []uint64{1, 6}, seqsOf(t, js, deadletters.Selection{IDs: []string{ids[0]}}), "by the payload's transaction id")
	assert.Equal(t, []uint64{5}, seqsOf(t, js, deadletters.Selection{IDs: []string{"tx-bad"}}), "by the header")
	assert.Equal(t, []uint64{2, 6}, seqsOf(t, js, deadletters.Selection{Seqs: []uint64{6, 2, 99}}))
	assert.Empty(t, seqsOf(t, js, deadletters.Selection{Seqs: []uint64{4}, Reasons: []string{"invalid"}}), "criteria combine")
	assert.Empty(t, seqsOf(t, js, deadletters.Selection{Since: time.Now().Add(time.Hour)}))
	assert.Len(t, seqsOf(t, js, deadletters.Selection{Since: time.Now().Add(-time.Hour)}), 7)

	var l *deadletters.Letter
	_, err := deadletters.Read(context.Background(), js, deadletters.Selection{Seqs: []uint64{2}}, func(x *deadletters.Letter) error { l = x; return nil })
	require.NoError(t, err)
	assert.Equal(t, "max_deliveries", l.Reason)
	assert.Equal(t, "fraud.dlq.max_deliveries", l.Subject)
	assert.Equal(t, "payments.transactions.pos", l.OriginalSubject)
	assert.Equal(t, ids[1], l.TransactionID)
	assert.False(t, l.Redacted)

	ls, err := deadletters.Get(context.Background(), js, deadletters.Selection{IDs: []string{"nope"}})
	assert.ErrorIs(t, err, deadletters.ErrNotFound)
	assert.Nil(t, ls)
	assert.EqualError(t, err, `deadletters: not found: no dead letter in FRAUD_DLQ with transaction id "nope"`)
	_, err = deadletters.Get(context.Background(), js, deadletters.Selection{})
	assert.ErrorIs(t, err, deadletters.ErrSelection)
}

func TestReadBadSelectionAndMissingStream(t *testing.T) {
	js, _ := topology(t)
	for _, s := range []deadletters.Selection{{Reasons: []string{"bored"}}, {Seqs: []uint64{0}}, {IDs: []string{""}}} {
		_, err := deadletters.Read(context.Background(), js, s, nil)
		assert.ErrorIs(t, err, deadletters.ErrSelection, "%+v", s)
	}
	_, err := deadletters.Read(context.Background(), js, deadletters.Selection{Stream: "NOPE"}, nil)
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	n, err := deadletters.Read(context.Background(), js, deadletters.Selection{}, nil)
	assert.NoError(t, err, "an empty stream")
	assert.Zero(t, n)
}

func TestSummarise(t *testing.T) {
	js, _ := topology(t)
	fill(t, js)
	at := time.Now().Add(2 * time.Hour) // every letter is between 1h and 24h old then
	s, err := deadletters.Summarise(context.Background(), js, deadletters.Selection{}, at)
	require.NoError(t, err)
	assert.Equal(t, 7, s.Total)
	require.Len(t, s.Reasons, 3)
	assert.Equal(t, []string{"invalid", "malformed", "max_deliveries"}, []string{s.Reasons[0].Reason, s.Reasons[1].Reason, s.Reasons[2].Reason})
	assert.Equal(t, 4, s.Reasons[2].Count)
	assert.Equal(t, [3]int{0, 4, 0}, s.Reasons[2].Ages)
	assert.False(t, s.Reasons[2].Newest.Before(s.Reasons[2].Oldest))
	var b bytes.Buffer
	require.NoError(t, s.WriteText(&b))
	assert.Contains(t, b.String(), "stream FRAUD_DLQ: 7 dead letters")
	assert.Regexp(t, `max_deliveries\s+4\s+0\s+4\s+0\s+\d{4}-`, b.String())

	// The buckets' bounds: younger than 1h, younger than 24h, older.
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	s = &deadletters.Summary{At: now}
	for _, age := range []time.Duration{0, 59 * time.Minute, time.Hour, 23 * time.Hour, 24 * time.Hour, 100 * time.Hour} {
		s.Add(&deadletters.Letter{Reason: "invalid", Stored: now.Add(-age)})
	}
	assert.Equal(t, [3]int{2, 2, 2}, s.Reasons[0].Ages)
	assert.Equal(t, now.Add(-100*time.Hour), s.Reasons[0].Oldest)
	assert.Equal(t, now, s.Reasons[0].Newest)
}

func TestShowMasksCardNumbers(t *testing.T) {
	js, _ := topology(t)
	natstest.PublishDeadLetters(t, js, contracts.SubjectDeadLettersPrefix, []natstest.DeadLetter{
		{Reason: contracts.ReasonInvalid, TransactionID: "tx-9", Data: []byte(`{"transaction_id":"tx-9","card_token":"` + pan + `"}`),
			Header: nats.Header{"X-Note": []string{"card 4111-1111-1111-1111"}}},
		{Reason: contracts.ReasonMalformed, Data: []byte("\x00\x01binary")},
	})
	ls, err := deadletters.Get(context.Background(), js, deadletters.Selection{IDs: []string{"tx-9"}})
	require.NoError(t, err)
	require.Len(t, ls, 1)
	var b bytes.Buffer
	require.NoError(t, deadletters.Show(&b, ls[0]))
	out := b.String()
	assert.NotContains(t, out, pan)
	assert.NotContains(t, out, "4111-1111-1111-1111")
	assert.Contains(t, out, `"card_token":"411111******1111"`)
	assert.Contains(t, out, "X-Note: card 4111-11**-****-1111")
	assert.Contains(t, out, "Fraudscore-Dlq-Reason: invalid")
	assert.Contains(t, out, "Fraudscore-Dlq-Original-Subject: payments.transactions.card")
	assert.Contains(t, out, "2 card numbers masked")
	assert.True(t, strings.HasPrefix(out, "sequence 1 on fraud.dlq.invalid, stored "), out)

	ls, err = deadletters.Get(context.Background(), js, deadletters.Selection{Seqs: []uint64{2}})
	require.NoError(t, err)
	b.Reset()
	require.NoError(t, deadletters.Show(&b, ls[0]))
	assert.Contains(t, b.String(), `"\x00\x01binary"`, "not text: quoted")
}

func inputIDs(t *testing.T, js jetstream.JetStream, cfg *worker.Config) map[string]string {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, cfg.Stream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	got := map[string]string{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		got[m.Header.Get(contracts.HeaderMsgID)] = m.Subject + " " + m.Header.Get(contracts.HeaderTraceparent)
	}
	return got
}

func TestPlanAndExecute(t *testing.T) {
	js, cfg := topology(t)
	ids := fill(t, js)
	ctx := context.Background()
	// ids[2] already has its verdict; a redacted letter of a fourth event.
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, []contracts.Verdict{{
		SchemaVersion: contracts.VerdictSchemaV1, TransactionID: ids[2], Decision: contracts.DecisionReview, Score: 0.5,
		ModelVersion: "v1", PolicyVersion: "p1", ScoredAt: time.Now().UTC(),
	}})
	evs, more := events(t, "red-", 1)
	natstest.PublishDeadLetters(t, js, contracts.SubjectDeadLettersPrefix, []natstest.DeadLetter{
		{Reason: contracts.ReasonMaxDeliveries, Data: evs[0], TransactionID: more[0],
			Header: nats.Header{contracts.HeaderRedacted: []string{contracts.RedactedPAN}}},
	})
	o := deadletters.ReplayOptions{InputStream: cfg.Stream, VerdictLookback: cfg.StreamMaxAge}
	r, err := deadletters.Plan(ctx, js, o)
	require.NoError(t, err)
	outcomes := func(r *deadletters.Replay) []deadletters.Outcome {
		var os []deadletters.Outcome
		for _, it := range r.Items {
			os = append(os, it.Outcome)
		}
		return os
	}
	assert.Equal(t, []deadletters.Outcome{
		deadletters.Ready, deadletters.Ready, deadletters.HasVerdict, deadletters.Invalid, deadletters.Invalid,
		deadletters.Repeat, deadletters.CardNumber, deadletters.Redacted,
	}, outcomes(r))
	assert.Equal(t, 4, r.Unresolved())
	assert.Contains(t, r.Items[2].Detail, "VERDICTS sequence 1")
	assert.Contains(t, r.Items[4].Detail, "amount_minor")
	assert.Empty(t, inputIDs(t, js, &cfg), "planning publishes nothing")

	require.NoError(t, r.Execute(ctx, js))
	assert.Equal(t, []deadletters.Outcome{
		deadletters.Replayed, deadletters.Replayed, deadletters.HasVerdict, deadletters.Invalid, deadletters.Invalid,
		deadletters.Repeat, deadletters.CardNumber, deadletters.Redacted,
	}, outcomes(r))
	assert.Equal(t, map[string]string{ids[0]: "payments.transactions.card ", ids[1]: "payments.transactions.pos " + traceparent}, inputIDs(t, js, &cfg),
		"each replayed once, on its original subject, with its transaction id as Msg-Id and its trace context")
	var b bytes.Buffer
	require.NoError(t, r.WriteText(&b))
	assert.Regexp(t, `seq 1\s+dl-\S+\s+max_deliveries\s+replayed: to payments.transactions.card, TRANSACTIONS sequence 1\n`, b.String())
	assert.Contains(t, b.String(), "8 dead letters: replayed 2, skipped: verdict exists 1, skipped: same transaction as an earlier letter 1, skipped: redacted 1, skipped: looks like a card number 1, still invalid 2\n")
	assert.NotContains(t, b.String(), pan)

	// Again, within the input's duplicate window: the input de-duplicates.
	r, err = deadletters.Plan(ctx, js, o)
	require.NoError(t, err)
	require.NoError(t, r.Execute(ctx, js))
	assert.Equal(t, deadletters.Duplicate, r.Items[0].Outcome)
	assert.Equal(t, deadletters.Duplicate, r.Items[1].Outcome)
	assert.Len(t, inputIDs(t, js, &cfg), 2)
	for _, it := range r.Items {
		assert.False(t, it.Deleted, "never deleted without Delete")
	}
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8}, seqsOf(t, js, deadletters.Selection{}))

	// With Delete: the one with a verdict goes; duplicates (and the repeat
	// of one) stay: the id the input remembers might be the original's.
	o.Delete = true
	o.Selection.Reasons = []string{contracts.ReasonMaxDeliveries}
	r, err = deadletters.Plan(ctx, js, o)
	require.NoError(t, err)
	assert.Equal(t, 4, r.Deletable(), "at most: the ready 1 and 2, 6 (a repeat of 1) and 3 (its verdict exists)")
	require.NoError(t, r.Execute(ctx, js))
	assert.Equal(t, []uint64{1, 2, 4, 5, 6, 7, 8}, seqsOf(t, js, deadletters.Selection{}))

	// A letter replayed now is deleted, with its repeat.
	evs, more = events(t, "del-", 1)
	seqs := natstest.PublishDeadLetters(t, js, contracts.SubjectDeadLettersPrefix, []natstest.DeadLetter{
		{Reason: contracts.ReasonMaxDeliveries, Data: evs[0]}, {Reason: contracts.ReasonMaxDeliveries, Data: evs[0]},
	})
	o.Selection = deadletters.Selection{IDs: more}
	r, err = deadletters.Plan(ctx, js, o)
	require.NoError(t, err)
	require.NoError(t, r.Execute(ctx, js))
	assert.Equal(t, []deadletters.Outcome{deadletters.Replayed, deadletters.Repeat}, outcomes(r))
	assert.True(t, r.Items[0].Deleted && r.Items[1].Deleted)
	assert.Equal(t, []uint64{9, 10}, seqs)
	assert.Equal(t, []uint64{1, 2, 4, 5, 6, 7, 8}, seqsOf(t, js, deadletters.Selection{}))
}

func TestPlanErrorsPublishNothing(t *testing.T) {
	js, cfg := topology(t)
	fill(t, js)
	ctx := context.Background()
	_, err := deadletters.Plan(ctx, js, deadletters.ReplayOptions{VerdictStream: "NOPE"})
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	_, err = deadletters.Plan(ctx, js, deadletters.ReplayOptions{Selection: deadletters.Selection{Stream: "NOPE"}})
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)

	// A dead letter whose payload is not an event, alone.
	r, err := deadletters.Plan(ctx, js, deadletters.ReplayOptions{Selection: deadletters.Selection{Seqs: []uint64{4}}})
	require.NoError(t, err)
	require.NoError(t, r.Execute(ctx, js))
	require.Len(t, r.Items, 1)
	assert.Equal(t, deadletters.Invalid, r.Items[0].Outcome)
	assert.Contains(t, r.Items[0].Detail, "malformed")
	assert.Equal(t, 1, r.Unresolved())

	// An input stream that does not capture the subject: failed, not stored
	// elsewhere.
	r, err = deadletters.Plan(ctx, js, deadletters.ReplayOptions{InputStream: "OTHER", Selection: deadletters.Selection{Seqs: []uint64{1}}})
	require.NoError(t, err)
	require.NoError(t, r.Execute(ctx, js))
	assert.Equal(t, deadletters.Failed, r.Items[0].Outcome, r.Items[0].Detail)
	assert.Empty(t, inputIDs(t, js, &cfg))
}

// More letters than one fetch returns: every one is read once, in order,
// and a reason filter that selects the last few still ends the read.
func TestReadManyFetches(t *testing.T) {
	js, _ := topology(t)
	dls := make([]natstest.DeadLetter, 2500)
	for i := range dls {
		dls[i] = natstest.DeadLetter{Reason: contracts.ReasonMalformed, Data: []byte("x")}
	}
	dls[2497].Reason, dls[2498].Reason = contracts.ReasonInvalid, contracts.ReasonInvalid
	natstest.PublishDeadLetters(t, js, contracts.SubjectDeadLettersPrefix, dls)
	seqs := seqsOf(t, js, deadletters.Selection{})
	require.Len(t, seqs, 2500)
	for i, q := range seqs {
		require.Equal(t, uint64(i+1), q)
	}
	assert.Equal(t, []uint64{2498, 2499}, seqsOf(t, js, deadletters.Selection{Reasons: []string{contracts.ReasonInvalid}}))
	assert.Empty(t, seqsOf(t, js, deadletters.Selection{Reasons: []string{contracts.ReasonTooLarge}}))
}
