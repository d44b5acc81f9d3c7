// Package streamread reads what a JetStream stream holds, up to the last
// message stored when the read began, with an ordered consumer: the one
// loop behind the tools that read dead letters (worker/deadletters) and the
// transaction archive (worker/archive).
package streamread

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Batch is how many messages one fetch asks for.
const Batch = 1000

// Stored hands every message an ordered consumer configured like cfg
// delivers, up to sequence end, to f, in stream order. It returns nil on the
// message at end, on a message with nothing pending after it, or on a fetch
// that brings nothing (the messages left were deleted meanwhile); f's error
// as it is; or ctx's error.
func Stored(ctx context.Context, stream jetstream.Stream, cfg jetstream.OrderedConsumerConfig, end uint64,
	f func(jetstream.Msg, *jetstream.MsgMetadata) error) error {
	oc, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return err
	}
	for {
		batch, err := oc.FetchNoWait(Batch)
		if err != nil {
			return err
		}
		got, done := 0, false
		for msg := range batch.Messages() {
			got++
			md, err := msg.Metadata()
			if err != nil {
				return err
			}
			if md.Sequence.Stream > end {
				done = true
				continue
			}
			if err := f(msg, md); err != nil {
				return err
			}
			if md.Sequence.Stream >= end || md.NumPending == 0 {
				done = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return err
		}
		if done || got == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
