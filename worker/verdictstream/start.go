package verdictstream

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pending returns how many messages a consumer configured like cfg would
// deliver now: the server counts them for a short-lived probe consumer,
// which is deleted again.
func pending(ctx context.Context, stream jetstream.Stream, cfg jetstream.OrderedConsumerConfig) (uint64, error) {
	probe, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubjects: cfg.FilterSubjects,
		DeliverPolicy:  cfg.DeliverPolicy,
		OptStartSeq:    cfg.OptStartSeq,
		OptStartTime:   cfg.OptStartTime,
		AckPolicy:      jetstream.AckNonePolicy,
		MemoryStorage:  true,
		Replicas:       1,
		// Removed by the server should the delete below be lost.
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return 0, fmt.Errorf("verdictstream: count pending: %w", err)
	}
	info := probe.CachedInfo()
	if err := stream.DeleteConsumer(ctx, info.Name); err != nil {
		return 0, fmt.Errorf("verdictstream: delete probe consumer %s: %w", info.Name, err)
	}
	return info.NumPending, nil
}

// startOfLast returns the stream sequence from which the messages cfg's
// filter selects number the last n (or the first sequence, if the stream
// holds fewer). A stream that holds only selected messages needs one probe;
// otherwise a binary search on the count of selected messages from a
// sequence on, which never grows with the sequence, needs about log2(the
// stream's messages) probes.
func startOfLast(ctx context.Context, stream jetstream.Stream, cfg jetstream.OrderedConsumerConfig, state jetstream.StreamState, n int) (uint64, error) {
	first, last := state.FirstSeq, state.LastSeq
	if last == 0 || last < first {
		return max(first, 1), nil
	}
	from := func(seq uint64) (uint64, error) {
		c := cfg
		c.DeliverPolicy, c.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
		return pending(ctx, stream, c)
	}
	want := uint64(n)
	if last-first+1 <= want {
		return first, nil
	}
	// At most last-seq+1 selected messages follow seq: the latest possible
	// start is last-n+1, and the answer if every message there is selected.
	hi := last - want + 1
	p, err := from(hi)
	if err != nil || p >= want {
		return hi, err
	}
	lo := first
	if p, err = from(lo); err != nil || p < want {
		return lo, err
	}
	for hi-lo > 1 { // from(lo) >= want > from(hi)
		mid := lo + (hi-lo)/2
		if p, err = from(mid); err != nil {
			return 0, err
		}
		if p >= want {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}
