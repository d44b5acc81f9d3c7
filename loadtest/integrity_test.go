package loadtest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/loadtest"
)

// storedRun is a hand-made run in real streams: ten transactions that must
// have a verdict and two poison ones that must have a dead letter.
type storedRun struct {
	js  jetstream.JetStream
	exp loadtest.Expected
	// seq maps "v:<id>" and "d:<id>" to the stored message's sequence.
	seq map[string]uint64
}

const (
	runVerdicts = 10
	runPoison   = 2
)

func newStoredRun(t *testing.T) *storedRun {
	t.Helper()
	js := natstest.JetStream(t, natstest.Start(t).ClientURL())
	ctx := context.Background()
	for name, subj := range map[string]string{"VERDICTS": contracts.SubjectVerdicts, "FRAUD_DLQ": contracts.SubjectDeadLetters} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subj}, Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
	}
	r := &storedRun{js: js, seq: map[string]uint64{}}
	want := map[string]loadtest.Outcome{"not-sent": loadtest.Nothing}
	// Traffic of another run shares the streams: foreign, not a failure.
	r.verdict(t, "other-1", "other-1")
	for i := range runVerdicts {
		id := fmt.Sprintf("tx-%d", i)
		want[id] = loadtest.OneVerdict
		r.verdict(t, id, id)
	}
	for i := range runPoison {
		id := fmt.Sprintf("poison-%d", i)
		want[id] = loadtest.OneDeadLetter
		r.deadLetter(t, id, "dlq-"+id)
	}
	r.exp = loadtest.ExpectIDs(want)
	return r
}

// verdict stores a verdict for id with the given Msg-Id.
func (r *storedRun) verdict(t *testing.T, id, msgID string) {
	t.Helper()
	m := &nats.Msg{Subject: contracts.SubjectVerdictsPrefix + "approve",
		Data:   fmt.Appendf(nil, `{"schema_version":"verdict.v1","transaction_id":%q,"decision":"approve"}`, id),
		Header: nats.Header{contracts.HeaderMsgID: []string{msgID}}}
	ack, err := r.js.PublishMsg(context.Background(), m)
	if err != nil || ack.Duplicate {
		t.Fatalf("store verdict %s: %v (duplicate %v)", id, err, ack != nil && ack.Duplicate)
	}
	r.seq["v:"+id] = ack.Sequence
}

// deadLetter stores a dead letter naming id with the given Msg-Id.
func (r *storedRun) deadLetter(t *testing.T, id, msgID string) {
	t.Helper()
	m := &nats.Msg{Subject: contracts.SubjectDeadLettersPrefix + contracts.ReasonInvalid,
		Data: fmt.Appendf(nil, `{"transaction_id":%q,"amount_minor":-1}`, id),
		Header: nats.Header{contracts.HeaderMsgID: []string{msgID}, contracts.HeaderDLQReason: []string{contracts.ReasonInvalid},
			contracts.HeaderDLQTransactionID: []string{id}}}
	ack, err := r.js.PublishMsg(context.Background(), m)
	if err != nil || ack.Duplicate {
		t.Fatalf("store dead letter %s: %v", id, err)
	}
	r.seq["d:"+id] = ack.Sequence
}

// remove deletes a stored message by sequence and checks it is gone.
func (r *storedRun) remove(t *testing.T, stream, key string) {
	t.Helper()
	ctx := context.Background()
	s, err := r.js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	seq, ok := r.seq[key]
	if !ok {
		t.Fatalf("no stored message %s", key)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		t.Fatalf("delete %s seq %d: %v", key, seq, err)
	}
	if _, err := s.GetMsg(ctx, seq); err == nil {
		t.Fatalf("%s seq %d still stored after delete", key, seq)
	}
}

func (r *storedRun) verify(t *testing.T) *loadtest.Integrity {
	t.Helper()
	// A short patience: a shortfall here is final, waiting longer changes
	// nothing.
	g, err := loadtest.VerifyStored(context.Background(), r.js, r.exp, loadtest.StoreCheck{Quiet: 200 * time.Millisecond, Patience: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestVerifyStoredClean(t *testing.T) {
	r := newStoredRun(t)
	g := r.verify(t)
	if err := g.Err(); err != nil || !g.OK() {
		t.Fatalf("clean run refused: %v", err)
	}
	if g.Expected != runVerdicts+runPoison || g.Verdicts != runVerdicts || g.DeadLetters != runPoison || g.Foreign != 1 {
		t.Errorf("expected %d, verdicts %d, dead letters %d, foreign %d; want %d, %d, %d, 1",
			g.Expected, g.Verdicts, g.DeadLetters, g.Foreign, runVerdicts+runPoison, runVerdicts, runPoison)
	}
	if g.DeadLetterReasons[contracts.ReasonInvalid] != runPoison {
		t.Errorf("dead letter reasons %v", g.DeadLetterReasons)
	}
	if !g.Settled {
		t.Error("not settled")
	}
}

// TestVerifyStoredFailsOnBrokenStreams breaks the stored outcome of one
// transaction at a time and checks that the checker names it.
func TestVerifyStoredFailsOnBrokenStreams(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, r *storedRun)
		check   func(g *loadtest.Integrity) int64
		kind    string
		id      string
	}{
		{"verdict missing", func(t *testing.T, r *storedRun) { r.remove(t, "VERDICTS", "v:tx-3") },
			func(g *loadtest.Integrity) int64 { return g.Missing }, loadtest.ProblemMissing, "tx-3"},
		{"verdict doubled under another Msg-Id", func(t *testing.T, r *storedRun) { r.verdict(t, "tx-4", "tx-4-again") },
			func(g *loadtest.Integrity) int64 { return g.DuplicateVerdicts }, loadtest.ProblemDuplicateVerdict, "tx-4"},
		{"dead letter missing", func(t *testing.T, r *storedRun) { r.remove(t, "FRAUD_DLQ", "d:poison-1") },
			func(g *loadtest.Integrity) int64 { return g.Missing }, loadtest.ProblemMissing, "poison-1"},
		{"dead letter doubled", func(t *testing.T, r *storedRun) { r.deadLetter(t, "poison-0", "dlq-poison-0-again") },
			func(g *loadtest.Integrity) int64 { return g.DuplicateDeadLetters }, loadtest.ProblemDuplicateDeadLetter, "poison-0"},
		{"verdict for a poison message", func(t *testing.T, r *storedRun) { r.verdict(t, "poison-1", "poison-1") },
			func(g *loadtest.Integrity) int64 { return g.Unexpected }, loadtest.ProblemUnexpected, "poison-1"},
		{"dead letter for a valid transaction", func(t *testing.T, r *storedRun) { r.deadLetter(t, "tx-0", "dlq-tx-0") },
			func(g *loadtest.Integrity) int64 { return g.Unexpected }, loadtest.ProblemUnexpected, "tx-0"},
		{"verdict for a transaction never sent", func(t *testing.T, r *storedRun) { r.verdict(t, "not-sent", "not-sent") },
			func(g *loadtest.Integrity) int64 { return g.Unexpected }, loadtest.ProblemUnexpected, "not-sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newStoredRun(t)
			tc.breakIt(t, r)
			g := r.verify(t)
			if g.OK() || g.Err() == nil {
				t.Fatalf("checker passed a broken run: %+v", g)
			}
			if n := tc.check(g); n != 1 {
				t.Errorf("%s count %d, want 1 (%v)", tc.kind, n, g.Err())
			}
			if !slices.Contains(g.Samples[tc.kind], tc.id) {
				t.Errorf("%s samples %v do not name %s", tc.kind, g.Samples[tc.kind], tc.id)
			}
			if !g.Settled {
				t.Errorf("not settled: %v", g.Err())
			}
			t.Logf("refused as it should: %v", g.Err())
		})
	}
}

func TestVerifyStoredReadsFromSequence(t *testing.T) {
	r := newStoredRun(t)
	// Reading from after tx-4's verdict: tx-0..tx-4 are outside the range,
	// so they are missing from it.
	from := r.seq["v:tx-4"] + 1
	g, err := loadtest.VerifyStored(context.Background(), r.js, r.exp, loadtest.StoreCheck{VerdictFrom: from, Quiet: 200 * time.Millisecond, Patience: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if g.Missing != 5 || g.VerdictSeqs[0] != from || g.Foreign != 0 {
		t.Errorf("from seq %d: missing %d (want 5), first seq read %d, foreign %d (want 0)", from, g.Missing, g.VerdictSeqs[0], g.Foreign)
	}
}
