package chaos

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/loadtest"
)

// Stream names the suite checks (the worker's defaults).
const (
	streamTx       = "TRANSACTIONS"
	streamVerdicts = "VERDICTS"
	streamDLQ      = "FRAUD_DLQ"
	streamAdv      = "FRAUD_ADVISORIES"
	consumerName   = "fraudscore"
)

// counts is one run's traffic and what the streams stored for it.
type counts struct {
	Published   int `json:"published"`
	Valid       int `json:"valid"`
	Garbage     int `json:"garbage"`
	Retried     int `json:"retried_publishes"`
	Unconfirmed int `json:"unconfirmed"`
	// Integrity is the check by transaction id of VERDICTS and FRAUD_DLQ.
	Integrity *loadtest.Integrity `json:"integrity"`
}

func (c counts) String() string {
	g := c.Integrity
	var rs []string
	for k, v := range g.DeadLetterReasons {
		rs = append(rs, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(rs)
	return fmt.Sprintf("published %d (valid %d, garbage %d; retried publishes %d, unconfirmed %d) | stored verdicts %d, dead letters %d [%s] | "+
		"missing %d, duplicate verdicts %d, duplicate dead letters %d, verdict+dead letter %d, unexpected %d, foreign %d",
		c.Published, c.Valid, c.Garbage, c.Retried, c.Unconfirmed, g.Verdicts, g.DeadLetters, strings.Join(rs, " "),
		g.Missing, g.DuplicateVerdicts, g.DuplicateDeadLetters, g.Both, g.Unexpected, g.Foreign)
}

// published is a report's cell for what was sent: the count, with the
// garbage and the publishes never confirmed among it when there are any.
func (c counts) published() string {
	var of []string
	if c.Garbage > 0 {
		of = append(of, fmt.Sprintf("%d garbage", c.Garbage))
	}
	if c.Unconfirmed > 0 {
		of = append(of, fmt.Sprintf("%d unconfirmed", c.Unconfirmed))
	}
	if len(of) == 0 {
		return strconv.Itoa(c.Published)
	}
	return fmt.Sprintf("%d (%s)", c.Published, strings.Join(of, ", "))
}

// figures returns a report's cells for the integrity check: stored
// verdicts, stored dead letters, missing, and duplicates (transactions with
// more than one verdict, more than one dead letter, or both; broken down
// when not 0). Each is "-" when the streams were not read.
func (c counts) figures() (verdicts, deadLetters, missing, duplicates string) {
	g := c.Integrity
	if g == nil {
		return "-", "-", "-", "-"
	}
	d := fmt.Sprint(g.DuplicateVerdicts + g.DuplicateDeadLetters + g.Both)
	if d != "0" {
		d = fmt.Sprintf("**%s** (%d verdicts, %d dead letters, %d both)", d, g.DuplicateVerdicts, g.DuplicateDeadLetters, g.Both)
	}
	m := fmt.Sprint(g.Missing)
	if g.Missing != 0 {
		m = "**" + m + "**"
	}
	return fmt.Sprint(g.Verdicts), fmt.Sprint(g.DeadLetters), m, d
}

// expected says what the streams must hold for each transaction of tr: a
// confirmed valid one exactly one verdict (the suite's faults never exhaust
// MaxDeliver), confirmed garbage exactly one dead letter, a publish never
// confirmed at most one of either, a transaction not sent nothing.
func expected(tr *traffic) loadtest.Expected {
	return loadtest.Expected{
		Len:   tr.n,
		Index: tr.index,
		ID:    tr.id,
		Want: func(i int) loadtest.Outcome {
			switch tr.states[i].Load() {
			case stNone:
				return loadtest.Nothing
			case stPending:
				return loadtest.AtMostOne
			}
			if tr.kinds[i] == kindGarbage {
				return loadtest.OneDeadLetter
			}
			return loadtest.OneVerdict
		},
	}
}

// deadLetterID names the transaction of a dead letter: its header or, for
// garbage the worker could not read an id from, the id in its payload.
func deadLetterID(h nats.Header, data []byte) string {
	if id := loadtest.DeadLetterTransactionID(h, data); id != "" {
		return id
	}
	return string(idRe.Find(data))
}

var idRe = regexp.MustCompile(`ch-[a-z0-9]+-[0-9]+`)

// verifyStored reads what VERDICTS and FRAUD_DLQ stored and checks it by
// transaction id against what tr sent.
func verifyStored(ctx context.Context, js jetstream.JetStream, tr *traffic) (counts, error) {
	c := counts{Retried: int(tr.retried.Load())}
	for i := range tr.n {
		switch st := tr.states[i].Load(); {
		case st == stNone:
			continue
		case st == stPending:
			c.Unconfirmed++
		}
		c.Published++
		if tr.kinds[i] == kindGarbage {
			c.Garbage++
		} else {
			c.Valid++
		}
	}
	g, err := loadtest.VerifyStored(ctx, js, expected(tr), loadtest.StoreCheck{DeadLetterID: deadLetterID, Patience: 5 * time.Second})
	if err != nil {
		return c, fmt.Errorf("chaos: %w", err)
	}
	c.Integrity = g
	return c, nil
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

// err is the suite's invariant: the stored-integrity check passed and the
// streams hold nothing that names no transaction of the run (each scenario
// has streams of its own).
func (c counts) err() error {
	var errs []error
	if err := c.Integrity.Err(); err != nil {
		errs = append(errs, err)
	}
	if c.Integrity.Foreign > 0 {
		errs = append(errs, fmt.Errorf("%d stored messages name no transaction of the run", c.Integrity.Foreign))
	}
	return errors.Join(errs...)
}
