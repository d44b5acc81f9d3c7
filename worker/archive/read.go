package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/streamread"
)

// DefaultStream is the archive stream's default name (the worker's
// FRAUDSCORE_ARCHIVE_STREAM).
const DefaultStream = "ARCHIVE"

// Errors of this package; each message starts with "archive:".
var (
	// ErrOptions is returned (wrapped) for contradictory or invalid Options.
	ErrOptions = errors.New("archive: invalid options")
	// ErrStop may be returned by a Handler to end Read early without an
	// error: Read then returns nil.
	ErrStop = errors.New("archive: stop")
)

// Options select the archived events Read delivers. The zero value reads
// every event stored in DefaultStream under contracts.SubjectArchivePrefix.
type Options struct {
	// Stream is the archive stream; empty means DefaultStream.
	Stream string
	// Prefix is the archive subject prefix (the worker's
	// FRAUDSCORE_ARCHIVE_PREFIX); empty means contracts.SubjectArchivePrefix.
	Prefix string
	// Since starts at the first event stored at or after this time.
	Since time.Time
	// Last starts at the last Last messages the stream holds (all of them if
	// it holds fewer). Since and Last exclude each other; with neither, Read
	// starts at the first event the stream holds.
	Last int
}

// Meta is an archived event's place in the stream.
type Meta struct {
	// Subject is the message's subject, <prefix><source>.
	Subject string
	// Sequence is its stream sequence.
	Sequence uint64
	// Stored is when the stream stored it (when the worker scored it).
	Stored time.Time
}

// Handler receives one decoded event. ev is only valid during the call:
// copy what you keep. An error ends Read, which returns it (wrapped), or nil
// for ErrStop.
type Handler func(m Meta, ev *contracts.TransactionEvent) error

// Stats count what Read read.
type Stats struct {
	// Events were handed to the Handler; Undecodable were refused by the
	// contract (an archive written under another contract version) and
	// skipped.
	Events, Undecodable int
}

func (o Options) normalize() (Options, error) {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Prefix == "" {
		o.Prefix = contracts.SubjectArchivePrefix
	}
	if o.Last < 0 {
		return o, fmt.Errorf("%w: Last is %d, want 0 or more", ErrOptions, o.Last)
	}
	if o.Last > 0 && !o.Since.IsZero() {
		return o, fmt.Errorf("%w: Since and Last exclude each other", ErrOptions)
	}
	return o, nil
}

// Read delivers the archived events o selects to h, in stream order, each
// decoded and validated by contracts.Validator.DecodeEvent, and returns
// what it read. It returns when the messages stored when it started are
// read (nil), when h returns an error (that error, or nil for ErrStop), or
// when ctx ends (ctx.Err()). A missing stream is an error matching
// jetstream.ErrStreamNotFound.
func Read(ctx context.Context, js jetstream.JetStream, o Options, h Handler) (Stats, error) {
	var st Stats
	o, err := o.normalize()
	if err != nil {
		return st, err
	}
	stream, err := js.Stream(ctx, o.Stream)
	if err != nil {
		return st, fmt.Errorf("archive: stream %s: %w", o.Stream, err)
	}
	state := stream.CachedInfo().State
	if state.Msgs == 0 {
		return st, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{o.Prefix + ">"}, ReplayPolicy: jetstream.ReplayInstantPolicy}
	switch {
	case o.Last > 0:
		start := state.FirstSeq
		if n := uint64(o.Last); state.LastSeq-state.FirstSeq+1 > n {
			start = state.LastSeq - n + 1
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
	case !o.Since.IsZero():
		since := o.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	default:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	v := contracts.NewValidator()
	var ev contracts.TransactionEvent
	err = streamread.Stored(ctx, stream, cfg, state.LastSeq, func(msg jetstream.Msg, md *jetstream.MsgMetadata) error {
		if err := v.DecodeEvent(msg.Data(), &ev); err != nil {
			st.Undecodable++
			return nil
		}
		st.Events++
		return h(Meta{Subject: msg.Subject(), Sequence: md.Sequence.Stream, Stored: md.Timestamp}, &ev)
	})
	if errors.Is(err, ErrStop) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("archive: read %s: %w", o.Stream, err)
	}
	return st, nil
}
