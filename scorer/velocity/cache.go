package velocity

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// A guess is a key's state and revision as Velocity believes it to be
// without reading the Store: the value this process last wrote or read
// (from the cache), or "absent" for a key it does not know. Writing a
// state computed from a guess is a compare-and-set at the guessed
// revision, so it succeeds only if the guess was right; a wrong guess costs
// the failed write and the read Velocity would have done anyway. Counts are
// exactly as without guessing: a state is only ever written over the
// revision it was computed from, and an event a guess says not to write
// (a duplicate, a late event) is settled on a fresh read.
//
// Guessing pays when more than half the guesses are right (a right guess
// saves one round trip, a wrong one costs one), so each kind of guess
// tracks its recent success rate and is only tried while that rate is at
// least one half, and on one event in guessProbeEvery otherwise, to notice
// when it becomes worth it again. With one worker per key (a single
// worker, or few workers and much traffic per key) cached guesses are
// right; with N workers sharing one consumer a key's next event reaches
// the same worker about 1/N of the time, and guessing turns itself off.

// guessSource is where a guess comes from.
type guessSource int

const (
	// guessCached: the cache held the key's state.
	guessCached guessSource = iota
	// guessAbsent: the cache did not know the key; guess it does not exist.
	guessAbsent
)

// guessSources names the sources, the source label of
// fraudscore_velocity_guesses_total.
var guessSources = [2]string{"cached", "absent"}

// Guess rate tracking: the rate is over the last guessWindow/2 to
// guessWindow tries; it is trusted from guessWarmup tries on.
const (
	guessWindow     = 1024
	guessWarmup     = 32
	guessProbeEvery = 16
)

// guessRate is the recent success rate of one kind of guess, in one word:
// tries in the high half, hits in the low half.
type guessRate struct {
	v     atomic.Uint64
	probe atomic.Uint32
}

// worth reports whether to try the guess on this event.
func (g *guessRate) worth() bool {
	v := g.v.Load()
	tries, hits := v>>32, v&(1<<32-1)
	if tries < guessWarmup || 2*hits >= tries {
		return true
	}
	return g.probe.Add(1)%guessProbeEvery == 0
}

// record adds one try, a hit or not, halving both counts when the window
// is full so that old tries weigh less.
func (g *guessRate) record(hit bool) {
	for {
		old := g.v.Load()
		tries, hits := old>>32+1, old&(1<<32-1)
		if hit {
			hits++
		}
		if tries >= guessWindow {
			tries, hits = tries/2, hits/2
		}
		if g.v.CompareAndSwap(old, tries<<32|hits) {
			return
		}
	}
}

// cacheShards splits the cache so that concurrent events rarely wait on one
// another's lock.
const cacheShards = 32

// cacheEntryOverhead is what one cached key costs beyond its key and value
// bytes (map slot, entry, slice header), for the byte budget.
const cacheEntryOverhead = 96

// cache is a process-local copy of states recently read or written, with
// their revisions, bounded in bytes (key, value and overhead); when a shard
// is over its share, entries other than the newest are evicted in map
// order (random). Safe for concurrent use.
type cache struct {
	seed     maphash.Seed
	maxShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu    sync.Mutex
	m     map[string]*cacheEntry
	bytes int
}

type cacheEntry struct {
	value    []byte
	revision uint64
}

// newCache returns a cache of at most maxBytes, or nil (no cache) when
// maxBytes is not positive.
func newCache(maxBytes int) *cache {
	if maxBytes <= 0 {
		return nil
	}
	c := &cache{seed: maphash.MakeSeed(), maxShard: max(maxBytes/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = map[string]*cacheEntry{}
	}
	return c
}

func (c *cache) shard(key string) *cacheShard {
	return &c.shards[maphash.String(c.seed, key)%cacheShards]
}

func entryBytes(key string, value []byte) int { return len(key) + cap(value) + cacheEntryOverhead }

// load appends key's cached value to dst and returns it with its revision;
// ok is false when the key is not cached.
func (c *cache) load(key string, dst []byte) ([]byte, uint64, bool) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return dst, 0, false
	}
	return append(dst, e.value...), e.revision, true
}

// store keeps a copy of value as key's state at revision, reusing the
// key's previous copy when it is large enough, and evicts other keys while
// the shard is over its share. A value larger than a shard's share is not
// kept.
func (c *cache) store(key string, value []byte, revision uint64) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if ok {
		s.bytes -= entryBytes(key, e.value)
	}
	if len(key)+len(value)+cacheEntryOverhead > c.maxShard {
		delete(s.m, key)
		return
	}
	if !ok {
		e = &cacheEntry{}
		s.m[key] = e
	}
	e.value = append(e.value[:0], value...)
	e.revision = revision
	s.bytes += entryBytes(key, e.value)
	for k, old := range s.m {
		if s.bytes <= c.maxShard {
			break
		}
		if k != key {
			s.bytes -= entryBytes(k, old.value)
			delete(s.m, k)
		}
	}
}

// forget drops key's cached state.
func (c *cache) forget(key string) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok {
		s.bytes -= entryBytes(key, e.value)
		delete(s.m, key)
	}
}

// bytes returns the bytes the cache accounts for (for tests).
func (c *cache) size() (keys, bytes int) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		keys += len(s.m)
		bytes += s.bytes
		s.mu.Unlock()
	}
	return keys, bytes
}

// keyTurnStripes is the number of locks keys are hashed onto.
const keyTurnStripes = 1024

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
