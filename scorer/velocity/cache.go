package velocity

import (
	"hash/maphash"
	"sync"
)

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
	if s.bytes <= c.maxShard {
		return
	}
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

// size returns the keys cached and the bytes the cache accounts for (for
// tests).
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
