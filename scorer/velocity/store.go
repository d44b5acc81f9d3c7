package velocity

import "context"

// Store is a key-value store with compare-and-set (a JetStream KV bucket in production, MemStore in training).
//
// Velocity reuses its buffers: a Store must not keep the value passed to
// Put after Put returns, and the caller does not modify a value Get
// returned.
type Store interface {
	// Get returns the value and its revision; value nil and revision 0 when the key does not exist.
	Get(ctx context.Context, key string) (value []byte, revision uint64, err error)
	// Put writes value if the key is still at revision (0: only if the key does not exist). ok is false,
	// with a nil error, when another writer got there first.
	Put(ctx context.Context, key string, value []byte, revision uint64) (ok bool, err error)
}
