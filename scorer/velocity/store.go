package velocity

import "context"

// Store is a key-value store with compare-and-set (a JetStream KV bucket in production, MemStore in training).
// It must be safe for concurrent use: Enrich updates an event's card and device keys at the same time.
//
// Velocity reuses its buffers: a Store must not keep the value passed to
// Put after Put returns, and the caller does not modify a value Get
// returned.
//
// Revisions identify values: a key's revision changes with every write and
// a revision is never given to two values of one key (a JetStream KV
// revision is the stream sequence of the write). Velocity relies on this
// to write a state it kept from its own last write without reading it
// again (Config.CacheBytes): the write succeeds only if the key is still at
// that revision, so still holds that value.
type Store interface {
	// Get returns the value and its revision; value nil and revision 0 when the key does not exist.
	Get(ctx context.Context, key string) (value []byte, revision uint64, err error)
	// Put writes value if the key is still at revision (0: only if the key does not exist) and returns the
	// value's new revision. ok is false, with a nil error, when the key was not at revision: another writer got
	// there first, or the value expired.
	Put(ctx context.Context, key string, value []byte, revision uint64) (newRevision uint64, ok bool, err error)
}
