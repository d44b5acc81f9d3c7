package velocity

import (
	"context"
	"slices"
	"sync"
)

// MemStore is a Store in memory, safe for concurrent use: a map under a
// mutex, with one revision sequence for the whole store as a JetStream KV
// bucket has. Training computes aggregates over it; tests use it. Its zero
// value is an empty store. Values never expire.
type MemStore struct {
	mu     sync.Mutex
	values map[string]memValue
	seq    uint64
}

type memValue struct {
	data     []byte
	revision uint64
}

// Get returns the value stored at key and its revision (nil, 0 when the
// key does not exist). The value is shared: the caller must not modify it.
func (s *MemStore) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.values[key]
	return v.data, v.revision, nil
}

// Put stores a copy of value at key if the key is still at revision (0:
// absent) and returns its new revision; ok is false when it is not.
func (s *MemStore) Put(ctx context.Context, key string, value []byte, revision uint64) (uint64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	data := make([]byte, len(value)) // make+copy: not zeroed first, unlike slices.Clone's growth
	copy(data, value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values[key].revision != revision {
		return 0, false, nil
	}
	if s.values == nil {
		s.values = map[string]memValue{}
	}
	s.seq++
	s.values[key] = memValue{data: data, revision: s.seq}
	return s.seq, true, nil
}

// Len returns the number of keys stored.
func (s *MemStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values)
}

// Keys returns the stored keys in ascending order.
func (s *MemStore) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.values))
	for k := range s.values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
