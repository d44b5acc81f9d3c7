package chaos

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
)

// Stream names the suite checks (the worker's defaults).
const (
	streamTx       = "TRANSACTIONS"
	streamVerdicts = "VERDICTS"
	streamDLQ      = "FRAUD_DLQ"
	streamAdv      = "FRAUD_ADVISORIES"
	consumerName   = "fraudscore"
)

// outcome is what the streams hold for one run's transactions.
type outcome struct {
	verdicts []uint8 // verdicts stored per transaction index
	dlq      []uint8 // dead letters stored per transaction index
	reasons  map[string]int
	// garbage transactions by dead-letter reason
	garbageReasons map[string]int
	// foreign: messages in VERDICTS / FRAUD_DLQ that name no transaction of
	// this run; headerMismatch: dead letters whose transaction-id header
	// differs from the id in their payload.
	foreignVerdicts, foreignDLQ, headerMismatch int
	// verdictMsgs and dlqMsgs are the streams' message counts; read* what
	// the ordered consumers delivered.
	verdictMsgs, dlqMsgs, verdictRead, dlqRead uint64
}

// counts is the per-scenario summary printed and checked.
type counts struct {
	Published, Valid, Garbage, Retried, Unconfirmed int
	Verdicts, DeadLetters                           int
	Missing, DupVerdicts, DupDeadLetters, Both      int
	ValidDeadLettered, GarbageWithVerdict           int
	Foreign, HeaderMismatch                         int
	Reasons                                         map[string]int
	VerdictMsgs, DLQMsgs, VerdictRead, DLQRead      uint64
}

func (c counts) String() string {
	var rs []string
	for k, v := range c.Reasons {
		rs = append(rs, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(rs)
	return fmt.Sprintf("published %d (valid %d, garbage %d; retried publishes %d, unconfirmed %d) | verdicts %d, dead letters %d [%s] | "+
		"missing %d, duplicate verdicts %d, duplicate dead letters %d, verdict+dead letter %d | valid dead-lettered %d, garbage with verdict %d | "+
		"foreign %d, dlq header mismatch %d | stream msgs VERDICTS %d FRAUD_DLQ %d",
		c.Published, c.Valid, c.Garbage, c.Retried, c.Unconfirmed, c.Verdicts, c.DeadLetters, strings.Join(rs, " "),
		c.Missing, c.DupVerdicts, c.DupDeadLetters, c.Both, c.ValidDeadLettered, c.GarbageWithVerdict,
		c.Foreign, c.HeaderMismatch, c.VerdictMsgs, c.DLQMsgs)
}

// exactlyOnce is the suite's invariant: every confirmed publish has exactly
// one verdict or exactly one dead letter, never both, never two; an
// unconfirmed one (never seen by the server, as far as the producer knows)
// at most one; nothing foreign.
func (c counts) exactlyOnce() error {
	var errs []string
	if c.Missing > 0 {
		errs = append(errs, fmt.Sprintf("%d missing", c.Missing))
	}
	if c.DupVerdicts > 0 || c.DupDeadLetters > 0 || c.Both > 0 {
		errs = append(errs, fmt.Sprintf("%d duplicate verdicts, %d duplicate dead letters, %d both", c.DupVerdicts, c.DupDeadLetters, c.Both))
	}
	if c.Foreign > 0 {
		errs = append(errs, fmt.Sprintf("%d foreign messages", c.Foreign))
	}
	if c.HeaderMismatch > 0 {
		errs = append(errs, fmt.Sprintf("%d dead letters name the wrong transaction", c.HeaderMismatch))
	}
	if c.VerdictRead != c.VerdictMsgs || c.DLQRead != c.DLQMsgs {
		errs = append(errs, fmt.Sprintf("read %d verdicts / %d dead letters but the streams hold %d / %d", c.VerdictRead, c.DLQRead, c.VerdictMsgs, c.DLQMsgs))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// summarize compares the outcome with what was published.
func summarize(tr *traffic, o *outcome) counts {
	c := counts{Retried: int(tr.retried.Load()), Reasons: o.reasons, VerdictMsgs: o.verdictMsgs, DLQMsgs: o.dlqMsgs,
		VerdictRead: o.verdictRead, DLQRead: o.dlqRead,
		Foreign: o.foreignVerdicts + o.foreignDLQ, HeaderMismatch: o.headerMismatch}
	for i := 0; i < tr.n; i++ {
		st := tr.states[i].Load()
		if st == stNone {
			continue
		}
		c.Published++
		if tr.kinds[i] == kindGarbage {
			c.Garbage++
		} else {
			c.Valid++
		}
		v, d := int(o.verdicts[i]), int(o.dlq[i])
		c.Verdicts += v
		c.DeadLetters += d
		if v > 1 {
			c.DupVerdicts++
		}
		if d > 1 {
			c.DupDeadLetters++
		}
		if v > 0 && d > 0 {
			c.Both++
		}
		if st != stAcked {
			c.Unconfirmed++
		} else if v+d == 0 {
			c.Missing++
		}
		if tr.kinds[i] == kindValid && d > 0 {
			c.ValidDeadLettered++
		}
		if tr.kinds[i] == kindGarbage && v > 0 {
			c.GarbageWithVerdict++
		}
	}
	return c
}

// quiesce waits until the input stream and the advisory stream are empty
// and the consumer has nothing pending or unacknowledged, twice in a row a
// second apart, or until limit passes.
func quiesce(ctx context.Context, js jetstream.JetStream, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	calm := 0
	var last string
	for time.Now().Before(deadline) {
		state, err := backlog(ctx, js)
		if err == nil && state == "" {
			calm++
			if calm >= 2 {
				return nil
			}
		} else {
			calm = 0
			last = state
			if err != nil {
				last = err.Error()
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("not quiet after %s: %s", limit, last)
}

// backlog describes what is left to do ("" when nothing).
func backlog(ctx context.Context, js jetstream.JetStream) (string, error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var left []string
	for _, name := range []string{streamTx, streamAdv} {
		s, err := js.Stream(qctx, name)
		if err != nil {
			return "", err
		}
		info, err := s.Info(qctx)
		if err != nil {
			return "", err
		}
		if info.State.Msgs > 0 {
			left = append(left, fmt.Sprintf("%s holds %d", name, info.State.Msgs))
		}
	}
	ci, err := js.Consumer(qctx, streamTx, consumerName)
	if err != nil {
		return "", err
	}
	info, err := ci.Info(qctx)
	if err != nil {
		return "", err
	}
	if info.NumPending > 0 || info.NumAckPending > 0 {
		left = append(left, fmt.Sprintf("consumer pending %d ack-pending %d redelivered %d", info.NumPending, info.NumAckPending, info.NumRedelivered))
	}
	return strings.Join(left, "; "), nil
}

var idRe = regexp.MustCompile(`ch-[a-z0-9]+-[0-9]+`)

// readOutcome reads VERDICTS and FRAUD_DLQ from the start with ordered
// consumers and counts what each transaction of tr got.
func readOutcome(ctx context.Context, nc *nats.Conn, tr *traffic) (*outcome, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	o := &outcome{verdicts: make([]uint8, tr.n), dlq: make([]uint8, tr.n), reasons: map[string]int{}, garbageReasons: map[string]int{}}
	var verr error
	o.verdictMsgs, verr = readAll(ctx, js, streamVerdicts, true, func(m jetstream.Msg) {
		o.verdictRead++
		i := tr.index(m.Headers().Get(contracts.HeaderMsgID))
		if i < 0 {
			o.foreignVerdicts++
			return
		}
		o.verdicts[i] = sat(o.verdicts[i])
	})
	if verr != nil {
		return nil, verr
	}
	o.dlqMsgs, err = readAll(ctx, js, streamDLQ, false, func(m jetstream.Msg) {
		o.dlqRead++
		h := m.Headers()
		reason := h.Get(contracts.HeaderDLQReason)
		fromData := idRe.Find(m.Data())
		id := h.Get(contracts.HeaderDLQTransactionID)
		if id != "" && fromData != nil && tr.index(string(fromData)) >= 0 && id != string(fromData) {
			o.headerMismatch++
		}
		if id == "" && fromData != nil {
			id = string(fromData)
		}
		i := tr.index(id)
		if i < 0 {
			o.foreignDLQ++
			return
		}
		o.dlq[i] = sat(o.dlq[i])
		o.reasons[reason]++
		if tr.kinds[i] == kindGarbage {
			o.garbageReasons[reason]++
		}
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

func sat(v uint8) uint8 {
	if v < 255 {
		v++
	}
	return v
}

// readAll delivers every message of a stream up to its current last
// sequence to fn and returns the stream's message count.
func readAll(ctx context.Context, js jetstream.JetStream, stream string, headersOnly bool, fn func(jetstream.Msg)) (uint64, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	s, err := js.Stream(rctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(rctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s info: %w", stream, err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	last := info.State.LastSeq
	oc, err := s.OrderedConsumer(rctx, jetstream.OrderedConsumerConfig{HeadersOnly: headersOnly})
	if err != nil {
		return 0, fmt.Errorf("ordered consumer on %s: %w", stream, err)
	}
	it, err := oc.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return 0, err
	}
	defer it.Stop()
	done := make(chan error, 1)
	go func() {
		for {
			m, err := it.Next()
			if err != nil {
				done <- err
				return
			}
			meta, err := m.Metadata()
			if err != nil {
				done <- err
				return
			}
			fn(m)
			if meta.Sequence.Stream >= last {
				done <- nil
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", stream, err)
		}
	case <-rctx.Done():
		it.Stop()
		return 0, fmt.Errorf("read %s: %w", stream, rctx.Err())
	}
	return info.State.Msgs, nil
}
