package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
)

// Outcome is what the streams must hold for one transaction of a run.
type Outcome uint8

const (
	// Nothing: the transaction was not sent, so nothing may be stored for it.
	Nothing Outcome = iota
	// OneVerdict: exactly one verdict and no dead letter.
	OneVerdict
	// OneDeadLetter: exactly one dead letter and no verdict (a poison
	// message).
	OneDeadLetter
	// OneOfEither: exactly one verdict or exactly one dead letter, not both
	// (a valid transaction that a fault may dead-letter after MaxDeliver).
	OneOfEither
	// AtMostOne: at most one verdict or one dead letter (a publish the
	// server never confirmed: it may or may not have been stored).
	AtMostOne
)

// Problem kinds of an Integrity report, the keys of Integrity.Samples.
const (
	ProblemMissing             = "missing"
	ProblemDuplicateVerdict    = "duplicate_verdict"
	ProblemDuplicateDeadLetter = "duplicate_dead_letter"
	ProblemBoth                = "verdict_and_dead_letter"
	ProblemUnexpected          = "unexpected"
)

// maxSamples bounds the ids listed per problem kind.
const maxSamples = 10

// Expected names a run's transactions and what each must have stored.
// Transactions are numbered 0..Len-1; ExpectIDs builds one from a map.
type Expected struct {
	// Len is the number of transactions.
	Len int
	// Index returns the number of the transaction a stored message names,
	// or -1 when the id is not of this run. Verdicts are named by their
	// payload transaction_id (or Nats-Msg-Id), dead letters by
	// StoreCheck.DeadLetterID.
	Index func(id string) int
	// ID returns the id of transaction i, for the report's samples.
	ID func(i int) string
	// Want returns what transaction i must have stored.
	Want func(i int) Outcome
}

// ExpectIDs returns the Expected of the transactions named in want.
func ExpectIDs(want map[string]Outcome) Expected {
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	return Expected{
		Len: len(ids),
		Index: func(id string) int {
			if i, ok := index[id]; ok {
				return i
			}
			return -1
		},
		ID:   func(i int) string { return ids[i] },
		Want: func(i int) Outcome { return want[ids[i]] },
	}
}

// StoreCheck configures VerifyStored. The zero value reads the whole of
// VERDICTS and FRAUD_DLQ with the default waits.
type StoreCheck struct {
	// VerdictStream and DLQStream name the streams (default VERDICTS and
	// FRAUD_DLQ).
	VerdictStream string
	DLQStream     string
	// VerdictFrom and DLQFrom are the first sequences to read (0: from the
	// start): a run reads from the streams' last sequence before it sent.
	VerdictFrom uint64
	DLQFrom     uint64
	// Quiet is how long both streams must stay unchanged, with everything
	// expected stored, before the check ends (default 1s): a late duplicate
	// stored meanwhile is caught.
	Quiet time.Duration
	// Patience is how long both streams must stay unchanged while something
	// expected is missing before it is reported missing (default 10s, never
	// less than Quiet).
	Patience time.Duration
	// Timeout bounds the whole check (default 2m); a check cut by it is not
	// Settled and fails.
	Timeout time.Duration
	// DeadLetterID returns the transaction id a dead letter names; nil uses
	// its Fraudscore-Dlq-Transaction-Id header or, when that is empty, the
	// transaction_id of its payload.
	DeadLetterID func(h nats.Header, data []byte) string
}

func (o *StoreCheck) normalize() {
	if o.VerdictStream == "" {
		o.VerdictStream = "VERDICTS"
	}
	if o.DLQStream == "" {
		o.DLQStream = "FRAUD_DLQ"
	}
	if o.Quiet <= 0 {
		o.Quiet = time.Second
	}
	if o.Patience <= 0 {
		o.Patience = 10 * time.Second
	}
	o.Patience = max(o.Patience, o.Quiet)
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.DeadLetterID == nil {
		o.DeadLetterID = DeadLetterTransactionID
	}
}

// DeadLetterTransactionID returns the transaction id a dead letter names:
// its Fraudscore-Dlq-Transaction-Id header or, when that is empty, the
// transaction_id of its payload ("" when neither has one).
func DeadLetterTransactionID(h nats.Header, data []byte) string {
	if id := h.Get(contracts.HeaderDLQTransactionID); id != "" {
		return id
	}
	return payloadTransactionID(data)
}

// payloadTransactionID returns the transaction_id of a JSON payload ("" when
// it has none or is not JSON).
func payloadTransactionID(data []byte) string {
	var ev struct {
		ID string `json:"transaction_id"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return ""
	}
	return ev.ID
}

// Integrity is what the streams stored for a run, checked transaction by
// transaction. Counts of problems are counts of transactions.
type Integrity struct {
	// Expected counts transactions that must have exactly one verdict or
	// dead letter (OneVerdict, OneDeadLetter, OneOfEither).
	Expected int64 `json:"expected"`
	// Verdicts and DeadLetters count the stored messages that name a
	// transaction of this run; DeadLetterReasons splits the dead letters.
	Verdicts          int64            `json:"stored_verdicts"`
	DeadLetters       int64            `json:"stored_dead_letters"`
	DeadLetterReasons map[string]int64 `json:"dead_letter_reasons,omitempty"`
	// Foreign counts stored messages in the range read that name no
	// transaction of this run (other traffic; not a failure).
	Foreign int64 `json:"foreign"`
	// Missing: an expected verdict or dead letter is not stored (shortfall).
	Missing int64 `json:"missing"`
	// DuplicateVerdicts and DuplicateDeadLetters: more than one stored
	// (surplus).
	DuplicateVerdicts    int64 `json:"duplicate_verdicts"`
	DuplicateDeadLetters int64 `json:"duplicate_dead_letters"`
	// Both: a verdict and a dead letter for a transaction that may have one
	// or the other.
	Both int64 `json:"verdict_and_dead_letter"`
	// Unexpected: a verdict where a dead letter was expected, a dead letter
	// where a verdict was, or anything for a transaction that was not sent.
	Unexpected int64 `json:"unexpected"`
	// MismatchedIDs counts stored verdicts of this run whose Nats-Msg-Id is
	// not their payload's transaction_id (de-duplication cannot hold).
	MismatchedIDs int64 `json:"mismatched_ids"`
	// Samples lists up to ten transaction ids per problem kind (the
	// Problem* constants).
	Samples map[string][]string `json:"samples,omitempty"`
	// VerdictSeqs and DLQSeqs are the first and last sequences read (0, 0:
	// nothing stored in the range).
	VerdictSeqs [2]uint64 `json:"verdict_seqs"`
	DLQSeqs     [2]uint64 `json:"dlq_seqs"`
	// Settled is true when the streams stopped changing before the
	// timeout; WaitSeconds is how long the check read and waited.
	Settled     bool    `json:"settled"`
	WaitSeconds float64 `json:"wait_seconds"`
}

// OK reports whether every transaction has exactly what it must, and the
// streams settled.
func (g *Integrity) OK() bool { return g.Err() == nil }

// Err describes every shortfall and surplus (nil when OK).
func (g *Integrity) Err() error {
	var errs []string
	add := func(n int64, what, kind string) {
		if n > 0 {
			errs = append(errs, fmt.Sprintf("%d %s %v", n, what, g.Samples[kind]))
		}
	}
	add(g.Missing, "missing", ProblemMissing)
	add(g.DuplicateVerdicts, "with duplicate verdicts", ProblemDuplicateVerdict)
	add(g.DuplicateDeadLetters, "with duplicate dead letters", ProblemDuplicateDeadLetter)
	add(g.Both, "with a verdict and a dead letter", ProblemBoth)
	add(g.Unexpected, "with unexpected messages", ProblemUnexpected)
	if g.MismatchedIDs > 0 {
		errs = append(errs, fmt.Sprintf("%d verdicts whose Msg-Id is not their transaction id", g.MismatchedIDs))
	}
	if !g.Settled {
		errs = append(errs, fmt.Sprintf("streams still changing after %.1fs", g.WaitSeconds))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New("loadtest: stored integrity: " + strings.Join(errs, "; "))
}

// VerifyStored reads what VERDICTS and FRAUD_DLQ stored (from the given
// sequences on, with ordered consumers), names each verdict by its payload's
// transaction_id (its Nats-Msg-Id when the payload has none) and each dead
// letter by StoreCheck.DeadLetterID, waits until both streams stop
// changing (bounded by StoreCheck), and checks by transaction id that each
// transaction of exp has exactly what it must. The error is only for a check
// that could not run (no stream, no consumer); shortfall and surplus are in
// the Integrity (see Integrity.Err).
func VerifyStored(ctx context.Context, js jetstream.JetStream, exp Expected, opt StoreCheck) (*Integrity, error) {
	opt.normalize()
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	start := time.Now()
	t := &tally{v: make([]uint8, exp.Len), d: make([]uint8, exp.Len), reasons: map[string]int64{}}
	vr, err := startReader(ctx, js, opt.VerdictStream, opt.VerdictFrom, func(m jetstream.Msg) {
		// A verdict names its transaction in its payload and its Msg-Id
		// (pass-through verdicts only in the Msg-Id); a verdict whose two
		// disagree escaped de-duplication and counts for its payload's id.
		msgID, id := m.Headers().Get(contracts.HeaderMsgID), payloadTransactionID(m.Data())
		if id == "" {
			id = msgID
		}
		t.verdict(exp.Index(id), msgID != id)
	})
	if err != nil {
		return nil, err
	}
	defer vr.stop()
	dr, err := startReader(ctx, js, opt.DLQStream, opt.DLQFrom, func(m jetstream.Msg) {
		reason := m.Headers().Get(contracts.HeaderDLQReason)
		t.deadLetter(exp.Index(opt.DeadLetterID(m.Headers(), m.Data())), reason)
	})
	if err != nil {
		return nil, err
	}
	defer dr.stop()

	settled := waitSettled(ctx, []*reader{vr, dr}, opt, func() bool { return t.complete(exp) })
	vr.stop()
	dr.stop()
	g := t.check(exp)
	g.VerdictSeqs, g.DLQSeqs = vr.seqs(), dr.seqs()
	g.Settled = settled
	g.WaitSeconds = time.Since(start).Seconds()
	return g, nil
}

// waitSettled polls the readers until they are caught up and unchanged for
// Quiet with complete() true, or for Patience otherwise; false when ctx
// ended first.
func waitSettled(ctx context.Context, rs []*reader, opt StoreCheck, complete func() bool) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	since := time.Now()
	for {
		state, caughtUp, err := readersState(ctx, rs)
		if err == nil {
			if state != last || !caughtUp {
				last, since = state, time.Now()
			} else if quiet := time.Since(since); quiet >= opt.Patience || (quiet >= opt.Quiet && complete()) {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// readersState returns a fingerprint of what the streams hold and the
// readers have read, and whether every reader has handled all its consumer
// has to deliver.
func readersState(ctx context.Context, rs []*reader) (string, bool, error) {
	var b strings.Builder
	all := true
	for _, r := range rs {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := r.stream.Info(qctx)
		var ci *jetstream.ConsumerInfo
		if err == nil {
			ci, err = r.consumer.Info(qctx)
		}
		cancel()
		if err != nil {
			return "", false, fmt.Errorf("loadtest: %s: %w", r.name, err)
		}
		n, lastSeq := r.progress()
		fmt.Fprintf(&b, "%s:%d/%d/%d;", r.name, info.State.LastSeq, info.State.Msgs, n)
		caughtUp := info.State.Msgs == 0 ||
			(ci.NumPending == 0 && ci.Delivered.Stream <= max(lastSeq, r.from-1))
		all = all && caughtUp
	}
	return b.String(), all, nil
}

// reader reads one stream with an ordered consumer from a sequence on.
type reader struct {
	name     string
	from     uint64
	stream   jetstream.Stream
	consumer jetstream.Consumer
	cc       jetstream.ConsumeContext
	once     sync.Once

	mu       sync.Mutex
	n        int64
	firstSeq uint64
	lastSeq  uint64
}

func startReader(ctx context.Context, js jetstream.JetStream, name string, from uint64, fn func(jetstream.Msg)) (*reader, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("loadtest: stream %s: %w", name, err)
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	oc, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("loadtest: ordered consumer on %s: %w", name, err)
	}
	r := &reader{name: name, from: max(from, 1), stream: s, consumer: oc}
	r.cc, err = oc.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		fn(m)
		r.mu.Lock()
		r.n++
		if r.firstSeq == 0 {
			r.firstSeq = meta.Sequence.Stream
		}
		r.lastSeq = meta.Sequence.Stream
		r.mu.Unlock()
	}, jetstream.PullMaxMessages(4096))
	if err != nil {
		return nil, fmt.Errorf("loadtest: consume %s: %w", name, err)
	}
	return r, nil
}

func (r *reader) progress() (n int64, lastSeq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, r.lastSeq
}

func (r *reader) seqs() [2]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return [2]uint64{r.firstSeq, r.lastSeq}
}

// stop ends the consumer and waits for its handler to return.
func (r *reader) stop() {
	r.once.Do(func() {
		r.cc.Drain()
		<-r.cc.Closed()
	})
}

// tally counts what was stored per transaction.
type tally struct {
	mu          sync.Mutex
	v, d        []uint8
	foreign     int64
	mismatch    int64
	verdicts    int64
	deadLetters int64
	reasons     map[string]int64
}

// verdict counts a stored verdict for transaction i (-1: foreign).
func (t *tally) verdict(i int, idMismatch bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count(t.v, &t.verdicts, i) && idMismatch {
		t.mismatch++
	}
}

// deadLetter counts a stored dead letter for transaction i (-1: foreign).
func (t *tally) deadLetter(i int, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count(t.d, &t.deadLetters, i) {
		t.reasons[reason]++
	}
}

// count adds one to per[i] (saturating at 2) and total, or to foreign when
// i is not of this run; t.mu is held.
func (t *tally) count(per []uint8, total *int64, i int) bool {
	if i < 0 || i >= len(per) {
		t.foreign++
		return false
	}
	*total++
	per[i] = min(per[i]+1, 2)
	return true
}

// complete reports whether nothing expected is missing.
func (t *tally) complete(exp Expected) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.v {
		if missing(exp.Want(i), t.v[i], t.d[i]) {
			return false
		}
	}
	return true
}

func missing(w Outcome, v, d uint8) bool {
	switch w {
	case OneVerdict:
		return v == 0
	case OneDeadLetter:
		return d == 0
	case OneOfEither:
		return v == 0 && d == 0
	}
	return false
}

// check compares the tally with exp.
func (t *tally) check(exp Expected) *Integrity {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := &Integrity{Verdicts: t.verdicts, DeadLetters: t.deadLetters, Foreign: t.foreign, MismatchedIDs: t.mismatch,
		DeadLetterReasons: t.reasons, Samples: map[string][]string{}}
	flag := func(n *int64, kind string, i int) {
		*n++
		if len(g.Samples[kind]) < maxSamples {
			g.Samples[kind] = append(g.Samples[kind], exp.ID(i))
		}
	}
	for i := range t.v {
		w, v, d := exp.Want(i), t.v[i], t.d[i]
		switch w {
		case OneVerdict, OneDeadLetter, OneOfEither:
			g.Expected++
		}
		if missing(w, v, d) {
			flag(&g.Missing, ProblemMissing, i)
		}
		if v > 1 {
			flag(&g.DuplicateVerdicts, ProblemDuplicateVerdict, i)
		}
		if d > 1 {
			flag(&g.DuplicateDeadLetters, ProblemDuplicateDeadLetter, i)
		}
		switch {
		case w == Nothing && v+d > 0, w == OneVerdict && d > 0, w == OneDeadLetter && v > 0:
			flag(&g.Unexpected, ProblemUnexpected, i)
		case (w == OneOfEither || w == AtMostOne) && v > 0 && d > 0:
			flag(&g.Both, ProblemBoth, i)
		}
	}
	if len(g.Samples) == 0 {
		g.Samples = nil
	}
	return g
}
