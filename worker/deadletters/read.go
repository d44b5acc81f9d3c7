package deadletters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/streamread"
)

// DefaultStream is the dead-letter stream's default name (the worker's
// FRAUDSCORE_DLQ_STREAM).
const DefaultStream = "FRAUD_DLQ"

// Errors of the package; each message starts with "deadletters:".
var (
	// ErrSelection is returned (wrapped) for an invalid Selection.
	ErrSelection = errors.New("deadletters: invalid selection")
	// ErrNotFound is returned (wrapped) when a sequence or transaction id
	// that was asked for by name selects no dead letter.
	ErrNotFound = errors.New("deadletters: not found")
)

// Selection chooses dead letters. Its criteria combine: a letter is
// selected when it meets every criterion that is set. The zero value
// selects every dead letter of DefaultStream under
// contracts.SubjectDeadLettersPrefix.
type Selection struct {
	// Stream is the dead-letter stream; empty means DefaultStream.
	Stream string
	// Prefix is the dead-letter subject prefix (the worker's
	// FRAUDSCORE_DLQ_PREFIX); empty means contracts.SubjectDeadLettersPrefix.
	Prefix string
	// Reasons keeps the letters stored under these reasons' subjects
	// (filtered by the server); each must be one of
	// contracts.DeadLetterReasons.
	Reasons []string
	// Since keeps the letters stored at or after this time.
	Since time.Time
	// IDs keeps the letters of these transaction ids (Letter.TransactionID).
	IDs []string
	// Seqs keeps the letters at these stream sequences.
	Seqs []uint64
}

// Letter is one dead letter as stored.
type Letter struct {
	// Sequence is its sequence in the dead-letter stream, Subject the subject
	// it was stored under and Stored when.
	Sequence uint64
	Subject  string
	Stored   time.Time
	// Reason is its Fraudscore-Dlq-Reason header, or the last token of
	// Subject when the header is missing, card numbers masked.
	Reason string
	// OriginalSubject is the input subject it was published on
	// (Fraudscore-Dlq-Original-Subject).
	OriginalSubject string
	// TransactionID is its Fraudscore-Dlq-Transaction-Id header or, when
	// that is empty, the transaction_id of its payload if the payload is a
	// JSON object with one; "" when neither names it.
	TransactionID string
	// Redacted reports the HeaderRedacted header: the worker masked card
	// numbers in the payload, which is therefore not the original input.
	Redacted bool
	// Header and Data are the message's headers and payload, unmasked: never
	// print or log them as they are (see Show).
	Header nats.Header
	Data   []byte
}

func (s Selection) normalize() (Selection, error) {
	if s.Stream == "" {
		s.Stream = DefaultStream
	}
	if s.Prefix == "" {
		s.Prefix = contracts.SubjectDeadLettersPrefix
	}
	for _, r := range s.Reasons {
		if !slices.Contains(contracts.DeadLetterReasons[:], r) {
			return s, fmt.Errorf("%w: unknown reason %q (want one of %s)", ErrSelection, r, strings.Join(contracts.DeadLetterReasons[:], ", "))
		}
	}
	for _, q := range s.Seqs {
		if q == 0 {
			return s, fmt.Errorf("%w: sequence 0", ErrSelection)
		}
	}
	for _, id := range s.IDs {
		if id == "" {
			return s, fmt.Errorf("%w: empty transaction id", ErrSelection)
		}
	}
	return s, nil
}

func (s *Selection) subjects() []string {
	if len(s.Reasons) == 0 {
		return []string{s.Prefix + ">"}
	}
	subj := make([]string, len(s.Reasons))
	for i, r := range s.Reasons {
		subj[i] = s.Prefix + r
	}
	return subj
}

// keeps reports whether l meets the criteria the server did not apply.
func (s *Selection) keeps(l *Letter) bool {
	if len(s.IDs) > 0 && !slices.Contains(s.IDs, l.TransactionID) {
		return false
	}
	if len(s.Seqs) > 0 && !slices.Contains(s.Seqs, l.Sequence) {
		return false
	}
	return s.Since.IsZero() || !l.Stored.Before(s.Since)
}

// Read hands every dead letter s selects to fn, in stream order, and
// returns how many it handed. It reads what the stream holds when Read
// starts and returns then (nil), or when fn returns an error (that error,
// wrapped). A missing stream is an error matching
// jetstream.ErrStreamNotFound. Sequences or transaction ids asked for that
// select nothing are not an error here (see Get).
func Read(ctx context.Context, js jetstream.JetStream, s Selection, fn func(*Letter) error) (int, error) {
	s, err := s.normalize()
	if err != nil {
		return 0, err
	}
	stream, err := js.Stream(ctx, s.Stream)
	if err != nil {
		return 0, fmt.Errorf("deadletters: stream %s: %w", s.Stream, err)
	}
	end := stream.CachedInfo().State.LastSeq
	if end == 0 {
		return 0, nil
	}
	n := 0
	if len(s.Seqs) > 0 { // by sequence: direct reads, no consumer
		seqs := slices.Clone(s.Seqs)
		slices.Sort(seqs)
		for _, q := range slices.Compact(seqs) {
			raw, err := stream.GetMsg(ctx, q)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return n, fmt.Errorf("deadletters: read %s sequence %d: %w", s.Stream, q, err)
			}
			l := letter(raw.Subject, raw.Sequence, raw.Time, raw.Header, raw.Data, s.Prefix)
			if !matchesSubjects(l.Subject, s.subjects()) || !s.keeps(l) {
				continue
			}
			n++
			if err := fn(l); err != nil {
				return n, fmt.Errorf("deadletters: %w", err)
			}
		}
		return n, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: s.subjects(), DeliverPolicy: jetstream.DeliverAllPolicy}
	if !s.Since.IsZero() {
		since := s.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	err = streamread.Stored(ctx, stream, cfg, end, func(msg jetstream.Msg, md *jetstream.MsgMetadata) error {
		l := letter(msg.Subject(), md.Sequence.Stream, md.Timestamp, msg.Headers(), msg.Data(), s.Prefix)
		if !s.keeps(l) {
			return nil
		}
		n++
		if err := fn(l); err != nil {
			return errHandler{err}
		}
		return nil
	})
	var he errHandler
	switch {
	case errors.As(err, &he):
		return n, fmt.Errorf("deadletters: %w", he.err)
	case err != nil && ctx.Err() != nil:
		return n, ctx.Err()
	case err != nil:
		return n, fmt.Errorf("deadletters: read %s: %w", s.Stream, err)
	}
	return n, nil
}

// errHandler carries fn's error through streamread.Stored, to tell it from
// a read error.
type errHandler struct{ err error }

func (e errHandler) Error() string { return e.err.Error() }

// Get returns the dead letters s selects, which must name at least one
// sequence or transaction id; it returns an error matching ErrNotFound when
// none is selected.
func Get(ctx context.Context, js jetstream.JetStream, s Selection) ([]*Letter, error) {
	if len(s.Seqs) == 0 && len(s.IDs) == 0 {
		return nil, fmt.Errorf("%w: name a sequence or a transaction id", ErrSelection)
	}
	var ls []*Letter
	_, err := Read(ctx, js, s, func(l *Letter) error {
		ls = append(ls, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("%w: no dead letter in %s with %s", ErrNotFound, cmpOr(s.Stream, DefaultStream), describe(&s))
	}
	return ls, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// describe names what s asks for, for an error message.
func describe(s *Selection) string {
	var parts []string
	for _, q := range s.Seqs {
		parts = append(parts, "sequence "+strconv.FormatUint(q, 10))
	}
	for _, id := range s.IDs {
		parts = append(parts, "transaction id "+strconv.Quote(id))
	}
	if len(s.Reasons) > 0 {
		parts = append(parts, "reason "+strings.Join(s.Reasons, " or "))
	}
	if !s.Since.IsZero() {
		parts = append(parts, "stored since "+s.Since.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

func matchesSubjects(subject string, filters []string) bool {
	for _, f := range filters {
		if f == subject || (strings.HasSuffix(f, ">") && strings.HasPrefix(subject, f[:len(f)-1])) {
			return true
		}
	}
	return false
}

// letter builds a Letter from a stored message; the data and headers are
// copied (a fetched message's buffers may be reused).
func letter(subject string, seq uint64, stored time.Time, h nats.Header, data []byte, prefix string) *Letter {
	l := &Letter{
		Sequence: seq, Subject: subject, Stored: stored,
		Reason:          h.Get(contracts.HeaderDLQReason),
		OriginalSubject: h.Get(contracts.HeaderDLQSubject),
		TransactionID:   h.Get(contracts.HeaderDLQTransactionID),
		Redacted:        h.Get(contracts.HeaderRedacted) != "",
		Header:          make(nats.Header, len(h)),
		Data:            slices.Clone(data),
	}
	for k, v := range h {
		l.Header[k] = slices.Clone(v)
	}
	if l.Reason == "" {
		l.Reason = strings.TrimPrefix(subject, prefix)
	}
	// A label printed by every command: never a card number (the worker
	// writes a known reason; anyone else might not).
	l.Reason, _ = contracts.RedactPANString(l.Reason)
	if l.TransactionID == "" {
		var p struct {
			TransactionID string `json:"transaction_id"`
		}
		if json.Unmarshal(data, &p) == nil {
			l.TransactionID = p.TransactionID
		}
	}
	return l
}
