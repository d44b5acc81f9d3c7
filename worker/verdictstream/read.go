package verdictstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
)

// DefaultStream is the verdict stream's default name (the worker's
// FRAUDSCORE_VERDICT_STREAM).
const DefaultStream = "VERDICTS"

// Errors of Read; each message starts with "verdictstream:".
var (
	// ErrOptions is returned (wrapped) for contradictory or invalid Options.
	ErrOptions = errors.New("verdictstream: invalid options")
	// ErrStop may be returned by a Handler to end Read early without an
	// error: Read then returns nil.
	ErrStop = errors.New("verdictstream: stop")
)

// Options select the verdicts Read delivers. The zero value reads every
// verdict stored in DefaultStream under contracts.SubjectVerdictsPrefix.
type Options struct {
	// Stream is the verdict stream; empty means DefaultStream.
	Stream string
	// Prefix is the verdict subject prefix (the worker's
	// FRAUDSCORE_VERDICT_PREFIX); empty means contracts.SubjectVerdictsPrefix.
	Prefix string
	// Decisions keeps only verdicts published on these decisions' subjects;
	// empty means all three.
	Decisions []contracts.Decision
	// Since starts at the first verdict stored at or after this time.
	Since time.Time
	// Last starts at the last Last verdicts of the selection (as many as the
	// stream holds if fewer). Since, Last and New exclude each other; with
	// none of them, Read starts at the first verdict the stream holds.
	Last int
	// New starts after the last message stored when Read starts: only
	// verdicts stored from then on are read. Meant with Follow (without it
	// Read returns at once, having read nothing).
	New bool
	// Follow keeps reading verdicts as they are stored until ctx ends. Without
	// it Read stops after the last verdict that was stored when it started.
	Follow bool
	// OnUndecodable, when set, is called for every message on a verdict
	// subject that DecodeVerdict refuses (the error is a
	// *contracts.ValidationError); such messages are counted either way.
	OnUndecodable func(Meta, error)
}

// Meta is a verdict message's place in the stream.
type Meta struct {
	// Subject is the message's subject, <prefix><decision>.
	Subject string
	// Sequence is its stream sequence.
	Sequence uint64
	// Stored is when the stream stored it.
	Stored time.Time
	// Pending is the number of selected messages after this one in the stream
	// when it was delivered.
	Pending uint64
}

// Handler receives one decoded verdict. vd is only valid during the call:
// copy what you keep. An error ends Read, which returns it (wrapped), or nil
// for ErrStop.
type Handler func(m Meta, vd *contracts.Verdict) error

// Stats count what Read read.
type Stats struct {
	// Verdicts were handed to the Handler; Undecodable were refused by
	// DecodeVerdict and skipped.
	Verdicts    int
	Undecodable int
	// FirstSeq and LastSeq are the stream sequences of the first and last
	// message read, 0 when none was.
	FirstSeq, LastSeq uint64
}

// normalize fills the defaults and checks o.
func (o Options) normalize() (Options, error) {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Prefix == "" {
		o.Prefix = contracts.SubjectVerdictsPrefix
	}
	if len(o.Decisions) == 0 {
		o.Decisions = contracts.Decisions[:]
	}
	for _, d := range o.Decisions {
		if !d.Valid() {
			return o, fmt.Errorf("%w: unknown decision %q", ErrOptions, d)
		}
	}
	if o.Last < 0 {
		return o, fmt.Errorf("%w: Last is %d, want 0 or more", ErrOptions, o.Last)
	}
	starts := 0
	for _, set := range []bool{o.Last > 0, !o.Since.IsZero(), o.New} {
		if set {
			starts++
		}
	}
	if starts > 1 {
		return o, fmt.Errorf("%w: Since, Last and New exclude each other", ErrOptions)
	}
	return o, nil
}

// subjects returns the filter subjects of the selected decisions.
func (o *Options) subjects() []string {
	s := make([]string, len(o.Decisions))
	for i, d := range o.Decisions {
		s[i] = contracts.VerdictSubject(o.Prefix, d)
	}
	return s
}

// Read delivers the verdicts o selects to h, in stream order, and returns
// what it read. It returns when the selection is exhausted (nil), when h
// returns an error (that error, or nil for ErrStop), or when ctx ends
// (ctx.Err()). A missing stream is an error matching
// jetstream.ErrStreamNotFound.
func Read(ctx context.Context, js jetstream.JetStream, o Options, h Handler) (Stats, error) {
	var st Stats
	o, err := o.normalize()
	if err != nil {
		return st, err
	}
	stream, err := js.Stream(ctx, o.Stream)
	if err != nil {
		return st, fmt.Errorf("verdictstream: stream %s: %w", o.Stream, err)
	}
	state := stream.CachedInfo().State
	end := state.LastSeq // the last message stored when Read started
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: o.subjects(), ReplayPolicy: jetstream.ReplayInstantPolicy}
	switch {
	case o.Last > 0:
		seq, err := startOfLast(ctx, stream, cfg, state, o.Last)
		if err != nil {
			return st, err
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	case !o.Since.IsZero():
		since := o.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	case o.New:
		if !o.Follow {
			return st, nil
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, end+1
	default:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	if !o.Follow {
		n, err := pending(ctx, stream, cfg)
		if err != nil {
			return st, err
		}
		if n == 0 || end == 0 {
			return st, nil
		}
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return st, fmt.Errorf("verdictstream: consumer on %s: %w", o.Stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return st, fmt.Errorf("verdictstream: read %s: %w", o.Stream, err)
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	var vd contracts.Verdict
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			return st, fmt.Errorf("verdictstream: read %s: %w", o.Stream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return st, fmt.Errorf("verdictstream: read %s: %w", o.Stream, err)
		}
		m := Meta{Subject: msg.Subject(), Sequence: md.Sequence.Stream, Stored: md.Timestamp, Pending: md.NumPending}
		if !o.Follow && m.Sequence > end {
			return st, nil
		}
		if st.FirstSeq == 0 {
			st.FirstSeq = m.Sequence
		}
		st.LastSeq = m.Sequence
		if err := contracts.DecodeVerdict(msg.Data(), &vd); err != nil {
			st.Undecodable++
			if o.OnUndecodable != nil {
				o.OnUndecodable(m, err)
			}
		} else {
			st.Verdicts++
			if err := h(m, &vd); err != nil {
				if errors.Is(err, ErrStop) {
					return st, nil
				}
				return st, fmt.Errorf("verdictstream: handler: %w", err)
			}
		}
		if !o.Follow && (m.Sequence >= end || m.Pending == 0) {
			return st, nil
		}
	}
}
