package deadletters

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/verdictstream"
)

// Outcome is what a replay did, or would do, with one dead letter.
type Outcome string

// Outcomes of a replay. Plan gives every letter one of the first six;
// Execute turns Ready into Replayed, Duplicate or Failed.
const (
	// Ready: the letter passed every check and will be published.
	Ready Outcome = "ready"
	// HasVerdict: the verdict stream already holds a verdict for its
	// transaction id; publishing again would at best be dropped.
	HasVerdict Outcome = "skipped: verdict exists"
	// Repeat: an earlier selected letter names the same transaction and is
	// the one replayed.
	Repeat Outcome = "skipped: same transaction as an earlier letter"
	// Redacted: the worker masked card numbers in the payload
	// (contracts.HeaderRedacted); it is not the original and cannot be
	// scored faithfully.
	Redacted Outcome = "skipped: redacted"
	// CardNumber: the payload contains something that looks like a card
	// number; replay never publishes it.
	CardNumber Outcome = "skipped: looks like a card number"
	// Invalid: contracts still refuses the payload (not an event, or an
	// event that breaks the contract); it would only be dead-lettered again.
	Invalid Outcome = "still invalid"
	// Replayed: published and stored in the input stream.
	Replayed Outcome = "replayed"
	// Duplicate: published, and the input stream answered duplicate: a
	// message with this transaction id was stored there within its
	// duplicate window (an earlier replay, or the producer), so this one
	// was not stored again.
	Duplicate Outcome = "duplicate"
	// Failed: the publish failed; nothing was stored.
	Failed Outcome = "failed"
)

// Outcomes lists every Outcome in the order of a report's totals.
var Outcomes = [...]Outcome{Ready, Replayed, Duplicate, HasVerdict, Repeat, Redacted, CardNumber, Invalid, Failed}

// Settled reports whether the letter's transaction has or is getting its
// verdict for sure: it was replayed now, or its verdict exists. Duplicate
// is not: the id the input stream remembers may be the original input's,
// dead-lettered less than the duplicate window ago, which gets no verdict.
func (o Outcome) Settled() bool {
	return o == Replayed || o == HasVerdict
}

// ReplayOptions configure Plan and Execute.
type ReplayOptions struct {
	// Selection chooses the dead letters.
	Selection Selection
	// VerdictStream and VerdictPrefix locate the verdicts (defaults those of
	// verdictstream).
	VerdictStream, VerdictPrefix string
	// VerdictLookback is how long before the oldest selected letter the
	// verdict stream is searched for existing verdicts; 0 searches the whole
	// stream. The worker's input stream max age (FRAUDSCORE_STREAM_MAX_AGE)
	// is a safe bound: a letter was stored at most that long after its
	// transaction first was, and no verdict of it predates that.
	VerdictLookback time.Duration
	// InputStream, when set, is the stream a replayed letter must be stored
	// in: a publish whose subject another stream (or none) captures fails
	// instead of being stored elsewhere.
	InputStream string
	// Validator checks payloads as the worker does (its MaxBytes should be
	// the worker's FRAUDSCORE_MAX_PAYLOAD); nil uses contracts' defaults.
	Validator *contracts.Validator
	// Delete removes from the dead-letter stream each letter whose outcome
	// is Settled after Execute (and a Repeat of one). A Duplicate is kept.
	Delete bool
}

// Item is one selected dead letter in a replay.
type Item struct {
	Letter *Letter
	// TransactionID is the decoded event's transaction id (the Msg-Id of
	// the replay), or the letter's own when the payload is not an event.
	TransactionID string
	Outcome       Outcome
	// Detail says more: the validation problem, the verdict's sequence, the
	// input sequence the replay was stored at, the publish error.
	Detail string
	// Deleted reports that Execute removed the letter.
	Deleted bool
	first   int // for a Repeat, the index of the letter that is replayed
}

// Replay is a planned (and perhaps executed) replay.
type Replay struct {
	Items []Item
	opts  ReplayOptions
}

// Plan selects the dead letters of o.Selection and checks each (without
// publishing anything), in stream order: a redacted payload, a payload that
// looks like a card number, one contracts refuses, a transaction already
// replayed by an earlier letter of the selection, then a verdict stored for
// its transaction id. The letters that pass are Ready.
func Plan(ctx context.Context, js jetstream.JetStream, o ReplayOptions) (*Replay, error) {
	r := &Replay{opts: o}
	byID := map[string]int{}
	var oldest time.Time
	_, err := Read(ctx, js, o.Selection, func(l *Letter) error {
		it := Item{Letter: l, TransactionID: l.TransactionID}
		var ev contracts.TransactionEvent
		switch {
		case l.Redacted:
			it.Outcome, it.Detail = Redacted, "the worker masked card numbers in it ("+contracts.HeaderRedacted+")"
		case contracts.ContainsPAN(l.Data):
			it.Outcome, it.Detail = CardNumber, "never published"
		case l.OriginalSubject == "":
			it.Outcome, it.Detail = Invalid, "no "+contracts.HeaderDLQSubject+" header: its input subject is unknown"
		default:
			if err := o.Validator.DecodeEvent(l.Data, &ev); err != nil {
				it.Outcome, it.Detail = Invalid, err.Error()
				break
			}
			it.TransactionID = ev.TransactionID
			if i, ok := byID[ev.TransactionID]; ok {
				it.Outcome, it.first = Repeat, i
				it.Detail = "sequence " + strconv.FormatUint(r.Items[i].Letter.Sequence, 10)
				break
			}
			byID[ev.TransactionID] = len(r.Items)
			it.Outcome, it.Detail = Ready, "to "+l.OriginalSubject
			if oldest.IsZero() || l.Stored.Before(oldest) {
				oldest = l.Stored
			}
		}
		r.Items = append(r.Items, it)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(byID) == 0 {
		return r, nil
	}
	vo := verdictstream.Options{Stream: o.VerdictStream, Prefix: o.VerdictPrefix}
	if o.VerdictLookback > 0 {
		vo.Since = oldest.Add(-o.VerdictLookback)
	}
	left := len(byID)
	_, err = verdictstream.Read(ctx, js, vo, func(m verdictstream.Meta, vd *contracts.Verdict) error {
		i, ok := byID[vd.TransactionID]
		if !ok || r.Items[i].Outcome != Ready {
			return nil
		}
		r.Items[i].Outcome = HasVerdict
		r.Items[i].Detail = fmt.Sprintf("%s sequence %d, %s", cmp.Or(o.VerdictStream, verdictstream.DefaultStream), m.Sequence, vd.Decision)
		if left--; left == 0 {
			return verdictstream.ErrStop
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("deadletters: look for existing verdicts: %w", err)
	}
	return r, nil
}

// Count returns how many items have outcome o.
func (r *Replay) Count(o Outcome) int {
	n := 0
	for i := range r.Items {
		if r.Items[i].Outcome == o {
			n++
		}
	}
	return n
}

// Unresolved returns how many items were not, and will not be, replayed
// for a reason that needs a person: every outcome but Ready, Settled ones,
// Duplicate (run the replay again after the duplicate window) and Repeat.
func (r *Replay) Unresolved() int {
	n := 0
	for i := range r.Items {
		switch o := r.Items[i].Outcome; {
		case o == Ready, o == Repeat, o == Duplicate, o.Settled():
		default:
			n++
		}
	}
	return n
}

// deletable reports whether Execute with Delete removes it: its outcome is
// Settled, or it repeats a letter whose outcome is.
func (r *Replay) deletable(it *Item) bool {
	return it.Outcome.Settled() || (it.Outcome == Repeat && r.Items[it.first].Outcome.Settled())
}

// Deletable returns how many letters Execute with Delete would remove if
// every Ready one were replayed: those Settled already, the Ready ones, and
// the repeats of those.
func (r *Replay) Deletable() int {
	n := 0
	for i := range r.Items {
		it := &r.Items[i]
		if it.Outcome == Ready || (it.Outcome == Repeat && r.Items[it.first].Outcome == Ready) || r.deletable(it) {
			n++
		}
	}
	return n
}

// Execute publishes every Ready letter to its original subject, with its
// transaction id as Nats-Msg-Id (and its trace context headers, if it has
// any), waits for each PubAck and records the outcome. With o.Delete it
// then removes the letters whose outcome is Settled, and the Repeats of
// those. It returns an error only when it could not go on (ctx ended, a
// delete failed); failed publishes are Failed items.
func (r *Replay) Execute(ctx context.Context, js jetstream.JetStream) error {
	var opts []jetstream.PublishOpt
	if r.opts.InputStream != "" {
		opts = append(opts, jetstream.WithExpectStream(r.opts.InputStream))
	}
	for i := range r.Items {
		it := &r.Items[i]
		if it.Outcome != Ready {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		msg := &nats.Msg{Subject: it.Letter.OriginalSubject, Data: it.Letter.Data, Header: nats.Header{}}
		msg.Header.Set(contracts.HeaderMsgID, it.TransactionID)
		for _, h := range []string{contracts.HeaderTraceparent, contracts.HeaderTracestate} {
			if v := it.Letter.Header.Get(h); v != "" {
				msg.Header.Set(h, v)
			}
		}
		ack, err := js.PublishMsg(ctx, msg, opts...)
		switch {
		case err != nil:
			it.Outcome, it.Detail = Failed, err.Error()
		case ack.Duplicate:
			it.Outcome, it.Detail = Duplicate, "not stored again: "+ack.Stream+" holds this id within its duplicate window"
		default:
			it.Outcome, it.Detail = Replayed, fmt.Sprintf("to %s, %s sequence %d", it.Letter.OriginalSubject, ack.Stream, ack.Sequence)
		}
	}
	if !r.opts.Delete {
		return nil
	}
	stream, err := js.Stream(ctx, cmp.Or(r.opts.Selection.Stream, DefaultStream))
	if err != nil {
		return fmt.Errorf("deadletters: delete: %w", err)
	}
	for i := range r.Items {
		it := &r.Items[i]
		if !r.deletable(it) {
			continue
		}
		if err := stream.DeleteMsg(ctx, it.Letter.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("deadletters: delete sequence %d: %w", it.Letter.Sequence, err)
		}
		it.Deleted = true
	}
	return nil
}

// WriteText writes one line per item (dead-letter sequence, transaction id,
// reason, outcome and detail, card numbers masked), then the totals.
func (r *Replay) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := range r.Items {
		it := &r.Items[i]
		id, _ := contracts.RedactPANString(cmp.Or(it.TransactionID, "-"))
		line := string(it.Outcome)
		if it.Detail != "" {
			d, _ := contracts.RedactPANString(it.Detail)
			line += ": " + strings.ReplaceAll(d, "\n", " ")
		}
		if it.Deleted {
			line += " (dead letter deleted)"
		}
		fmt.Fprintf(tw, "seq %d\t%s\t%s\t%s\n", it.Letter.Sequence, quoteIfNeeded(id), it.Letter.Reason, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for _, o := range Outcomes {
		if n := r.Count(o); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", o, n))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing selected")
	}
	_, err := fmt.Fprintf(w, "%d dead letters: %s\n", len(r.Items), strings.Join(parts, ", "))
	return err
}
