package velocity

import (
	"context"
	"hash/maphash"
)

// keyTurnStripes is the number of locks keys are hashed onto: with the
// worker's default of 128 events in flight on 2 CPUs (about 256 keys),
// about 8 pairs of unrelated keys share a lock at any time.
const keyTurnStripes = 4096

// keyTurns lets one update of a key run at a time in this process: events
// of one hot key (a card under a testing burst, a device of a fraud farm)
// queue for their turn instead of racing each other's compare-and-set, and
// each finds the state the previous one wrote in the cache. Keys are hashed
// onto keyTurnStripes locks, so two keys rarely share one; each update
// holds one lock at a time, so there is no deadlock.
type keyTurns struct {
	seed    maphash.Seed
	stripes [keyTurnStripes]chan struct{}
}

func newKeyTurns() keyTurns {
	t := keyTurns{seed: maphash.MakeSeed()}
	for i := range t.stripes {
		t.stripes[i] = make(chan struct{}, 1)
	}
	return t
}

// take waits for key's turn, or for ctx to end; the caller ends its turn
// by receiving from the channel returned.
func (t *keyTurns) take(ctx context.Context, key string) (chan struct{}, error) {
	c := t.stripes[maphash.String(t.seed, key)%keyTurnStripes]
	select {
	case c <- struct{}{}:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
