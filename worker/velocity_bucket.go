package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// VelocityLimits are what the velocity settings decide about their bucket.
type VelocityLimits struct {
	// TTL is how long a value is kept after its last write: the longest
	// window plus the lateness bound (velocity.Config.Retention).
	TTL time.Duration
	// MaxValue is the largest state the velocity settings can write, in
	// bytes (with the default entry caps, velocity.CardStateBytes(2048, 32)).
	MaxValue int
}

// velocityHeaderRoom is what the bucket's message size limit allows on top
// of VelocityLimits.MaxValue: the server counts a write's headers (the
// expected revision of a compare-and-set) against the limit too.
const velocityHeaderRoom = 1024

// VelocityBucketConfig is the KV bucket holding velocity state (ADR 0022,
// docs/velocity.md): one value per card or device key (History 1), each
// removed lim.TTL after its last write, file storage,
// FRAUDSCORE_STREAM_REPLICAS replicas, and writes of at most lim.MaxValue
// bytes of value (plus room for the headers): the server refuses a larger
// one, which the velocity engine counts as a store error and degrades. The
// server's max_payload (1 MiB by default) must be larger too.
func VelocityBucketConfig(cfg *Config, lim VelocityLimits) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:       cfg.VelocityBucket,
		Description:  "fraudscore: velocity state per card and device key (FRAUDSCORE_VELOCITY=kv), kept for the longest window plus the lateness bound after its last write",
		History:      1,
		TTL:          lim.TTL,
		MaxValueSize: int32(min(lim.MaxValue+velocityHeaderRoom, 64<<20)),
		Storage:      jetstream.FileStorage,
		Replicas:     cfg.Replicas,
	}
}

// VelocityBucketOptions are OpenVelocityBucket's collaborators; every field
// is optional.
type VelocityBucketOptions struct {
	// Retry bounds the retries of transient failures; zero fields take
	// DefaultSetupRetry's values.
	Retry SetupRetry
	// Metrics counts each retry in fraudscore_setup_retries_total.
	Metrics *Metrics
	// Logger logs each retry and a bound bucket whose TTL differs.
	Logger *slog.Logger
}

// OpenVelocityBucket creates the velocity bucket, or updates its
// configuration when it exists (a new TTL, value limit or replica count
// applies to the values already stored: see ADR 0022); with
// FRAUDSCORE_ENSURE_TOPOLOGY=false it binds to the bucket managed elsewhere
// and logs a warning when that bucket's TTL is not lim.TTL. Transient failures (no meta leader yet, no
// responders, a timeout) are retried as the worker's own setup does until
// ctx ends; anything else returns at once.
func OpenVelocityBucket(ctx context.Context, nc *nats.Conn, cfg *Config, lim VelocityLimits, o VelocityBucketOptions) (*VelocityBucket, error) {
	if lim.TTL <= 0 || lim.MaxValue <= 0 {
		return nil, fmt.Errorf("worker: velocity bucket TTL %s and value limit %d must be positive: %w", lim.TTL, lim.MaxValue, ErrConfig)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("worker: jetstream: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	kc := VelocityBucketConfig(cfg, lim)
	var kv jetstream.KeyValue
	attempts, err := o.Retry.withDefaults().run(ctx, transientSetupError, func(actx context.Context) error {
		var err error
		kv, err = ensureVelocityBucket(actx, js, cfg, kc)
		return err
	}, func(attempt int, pause time.Duration, err error) {
		if o.Metrics != nil {
			o.Metrics.SetupRetries.Inc()
		}
		log.Warn("velocity bucket setup failed; retrying", "bucket", kc.Bucket, "attempt", attempt,
			"retry_in", pause.Round(time.Millisecond).String(), "err", err)
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, fmt.Errorf("worker: velocity bucket %s: setup stopped after %d attempts: %w (last error: %w)", kc.Bucket, attempts, ctx.Err(), err)
	default:
		return nil, err
	}
	if !cfg.EnsureTopology {
		if st, serr := kv.Status(ctx); serr == nil && st.TTL() != lim.TTL {
			log.Warn("velocity bucket TTL differs from the velocity retention; values may expire before their windows end or be kept longer",
				"bucket", kc.Bucket, "bucket_ttl", st.TTL().String(), "retention", lim.TTL.String())
		}
	}
	return &VelocityBucket{kv: kv}, nil
}

// ensureVelocityBucket is one attempt of OpenVelocityBucket.
func ensureVelocityBucket(ctx context.Context, js jetstream.JetStream, cfg *Config, kc jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if cfg.EnsureTopology {
		kv, err := js.CreateOrUpdateKeyValue(ctx, kc)
		if err != nil {
			return nil, fmt.Errorf("worker: ensure bucket %s: %w", kc.Bucket, err)
		}
		return kv, nil
	}
	kv, err := js.KeyValue(ctx, kc.Bucket)
	if err != nil {
		return nil, fmt.Errorf("worker: bucket %s (topology is managed elsewhere): %w", kc.Bucket, err)
	}
	return kv, nil
}

// VelocityBucket is the velocity state store on a JetStream KV bucket: its
// Get and Put are the compare-and-set store the velocity engine
// (scorer/velocity) runs its update loop on. Safe for concurrent use.
type VelocityBucket struct {
	kv jetstream.KeyValue
}

// Bucket is the bucket's name.
func (b *VelocityBucket) Bucket() string { return b.kv.Bucket() }

// Get returns key's value and revision; a nil value and revision 0, with a
// nil error, when the key does not exist: never written, expired (TTL), or
// deleted or purged (a marker is no value).
func (b *VelocityBucket) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := b.kv.Get(ctx, key)
	switch {
	case err == nil:
		return e.Value(), e.Revision(), nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return nil, 0, nil
	}
	return nil, 0, fmt.Errorf("worker: velocity bucket %s: get: %w", b.kv.Bucket(), err)
}

// Put writes value to key if the key is still at revision, 0 meaning that
// it must not exist (a deleted or expired key does not), and returns the
// value's revision (its stream sequence). ok is false, with a nil error,
// when the key was not at revision: another writer changed it first, or
// it expired or was deleted since; the server answered "wrong last
// sequence" (10071, or 10164 on a replicated bucket). Every other failure,
// a timeout included, is an error: the write may or may not have been
// stored.
func (b *VelocityBucket) Put(ctx context.Context, key string, value []byte, revision uint64) (uint64, bool, error) {
	var rev uint64
	var err error
	if revision == 0 {
		rev, err = b.kv.Create(ctx, key, value)
	} else {
		rev, err = b.kv.Update(ctx, key, value, revision)
	}
	switch {
	case err == nil:
		return rev, true, nil
	case casConflict(err):
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("worker: velocity bucket %s: put: %w", b.kv.Bucket(), err)
}

// casConflict reports whether a KV write failed because the key was not at
// the expected revision. kv.Create wraps ErrKeyExists and kv.Update
// ErrKeyRevisionMismatch, but kv.Create on a deleted key returns the
// server's error as is; the API codes cover that case, on single-replica
// (10071) and replicated (10164) buckets alike.
func casConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
