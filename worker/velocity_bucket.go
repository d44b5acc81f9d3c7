package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
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
// removed lim.TTL after its last write, FRAUDSCORE_VELOCITY_STORAGE (file
// by default), FRAUDSCORE_STREAM_REPLICAS replicas, and writes of at most
// lim.MaxValue bytes of value (plus room for the headers): the server
// refuses a larger one, which the velocity engine counts as a store error
// and degrades. The server's max_payload (1 MiB by default) must be larger
// too.
func VelocityBucketConfig(cfg *Config, lim VelocityLimits) jetstream.KeyValueConfig {
	storage, _ := velocityStorage(cfg.VelocityStorage)
	return jetstream.KeyValueConfig{
		Bucket:       cfg.VelocityBucket,
		Description:  "fraudscore: velocity state per card and device key (FRAUDSCORE_VELOCITY=kv), kept for the longest window plus the lateness bound after its last write",
		History:      1,
		TTL:          lim.TTL,
		MaxValueSize: int32(min(lim.MaxValue+velocityHeaderRoom, 64<<20)),
		Storage:      storage,
		Replicas:     cfg.Replicas,
	}
}

// velocityStorage returns the bucket's storage named by
// FRAUDSCORE_VELOCITY_STORAGE; ok is false for a name that is neither
// (which Config.Problems refuses, so the bucket is never created with it).
func velocityStorage(name string) (st jetstream.StorageType, ok bool) {
	switch name {
	case "file":
		return jetstream.FileStorage, true
	case "memory":
		return jetstream.MemoryStorage, true
	}
	return jetstream.FileStorage, false
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
// applies to the values already stored: see ADR 0022), refusing one that
// mirrors another or has another storage (ErrConfig); with
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
	if cfg.EnsureTopology && kc.Storage == jetstream.MemoryStorage && kc.Replicas < 2 {
		log.Warn("velocity bucket in memory with one replica: a restart of its NATS server loses the bucket, and velocity degrades until a worker creates it again; use FRAUDSCORE_STREAM_REPLICAS=3 (docs/velocity.md)",
			"bucket", kc.Bucket)
	}
	if !cfg.EnsureTopology {
		st, err := kv.Status(ctx)
		switch {
		case err != nil:
			// Best effort, as the bind succeeded: a bucket that cannot
			// be written shows in the degraded metric.
			log.Warn("velocity bucket status unavailable; its TTL and origin were not checked", "bucket", kc.Bucket, "err", err)
		case st.TTL() != lim.TTL:
			log.Warn("velocity bucket TTL differs from the velocity retention; values may expire before their windows end or be kept longer",
				"bucket", kc.Bucket, "bucket_ttl", st.TTL().String(), "retention", lim.TTL.String())
		}
		if ks, ok := st.(*jetstream.KeyValueBucketStatus); ok && err == nil {
			// Put writes to the bucket's own subjects, which a mirror
			// does not have: its writes would find no stream.
			if m := ks.StreamInfo().Config.Mirror; m != nil {
				return nil, fmt.Errorf("worker: bucket %s mirrors %s: velocity writes to its bucket, so it must be the origin: %w",
					kc.Bucket, m.Name, ErrConfig)
			}
			if had := ks.StreamInfo().Config.Storage; had != kc.Storage {
				log.Warn("velocity bucket storage differs from FRAUDSCORE_VELOCITY_STORAGE; the bucket is used as it is",
					"bucket", kc.Bucket, "bucket_storage", strings.ToLower(had.String()), "setting", cfg.VelocityStorage)
			}
		}
	}
	return &VelocityBucket{kv: kv, nc: nc, putPrefix: "$KV." + kc.Bucket + ".",
		ackPrefix: []byte(`{"stream":"` + bucketStream(kc.Bucket) + `","seq":`)}, nil
}

// ensureVelocityBucket is one attempt of OpenVelocityBucket.
func ensureVelocityBucket(ctx context.Context, js jetstream.JetStream, cfg *Config, kc jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if cfg.EnsureTopology {
		if err := refuseBreakingBucketUpdate(ctx, js, kc, "FRAUDSCORE_VELOCITY_STORAGE="+cfg.VelocityStorage); err != nil {
			return nil, err
		}
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
	// nc writes the bucket's values itself (see Put).
	nc        *nats.Conn
	putPrefix string // "$KV.<bucket>."
	ackPrefix []byte // a PubAck from the bucket's stream starts so: {"stream":"KV_<bucket>","seq":
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
//
// A write is the KV client's compare-and-set (a publish to the key's
// subject with the Nats-Expected-Last-Subject-Sequence header), made here
// so that the usual acknowledgement is read without decoding JSON
// (pubAckSeq); any other answer is decoded in full. Only a create that
// finds the key's subject taken goes through the KV client, which tells a
// delete or purge marker (the key is absent: created at the marker's
// revision) from a value.
func (b *VelocityBucket) Put(ctx context.Context, key string, value []byte, revision uint64) (uint64, bool, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, putTimeout)
		defer cancel()
	}
	m := nats.Msg{Subject: b.putPrefix + key, Data: value,
		Header: nats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(revision, 10)}}}
	resp, err := b.nc.RequestMsgWithContext(ctx, &m)
	// No responders: the bucket's stream is between leaders (an
	// election); try again while ctx allows, as the KV client does.
	for errors.Is(err, nats.ErrNoResponders) {
		select {
		case <-ctx.Done():
			return 0, false, fmt.Errorf("worker: velocity bucket %s: put: %w (last error: %w)", b.kv.Bucket(), ctx.Err(), err)
		case <-time.After(noRespondersWait):
		}
		resp, err = b.nc.RequestMsgWithContext(ctx, &m)
	}
	if err != nil {
		return 0, false, fmt.Errorf("worker: velocity bucket %s: put: %w", b.kv.Bucket(), err)
	}
	if seq, ok := pubAckSeq(resp.Data, b.ackPrefix); ok {
		return seq, true, nil
	}
	var ack struct {
		Stream string              `json:"stream"`
		Seq    uint64              `json:"seq"`
		Error  *jetstream.APIError `json:"error"`
	}
	switch err := json.Unmarshal(resp.Data, &ack); {
	case err != nil:
		return 0, false, fmt.Errorf("worker: velocity bucket %s: put: undecodable acknowledgement: %w", b.kv.Bucket(), err)
	case ack.Error != nil && casConflict(ack.Error) && revision == 0:
		return b.putKV(ctx, key, value, 0)
	case ack.Error != nil && casConflict(ack.Error):
		return 0, false, nil
	case ack.Error != nil:
		return 0, false, fmt.Errorf("worker: velocity bucket %s: put: %w", b.kv.Bucket(), ack.Error)
	case ack.Stream == "":
		return 0, false, fmt.Errorf("worker: velocity bucket %s: put: %w", b.kv.Bucket(), jetstream.ErrInvalidJSAck)
	}
	return ack.Seq, true, nil
}

// putTimeout bounds a Put whose context has no deadline (the KV client's
// default); noRespondersWait is the pause before a write that found no
// stream leader is sent again.
const (
	putTimeout       = 5 * time.Second
	noRespondersWait = 25 * time.Millisecond
)

// putKV is Put through the KV client's Create and Update.
func (b *VelocityBucket) putKV(ctx context.Context, key string, value []byte, revision uint64) (uint64, bool, error) {
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

// pubAckSeq reads the sequence from a JetStream publish acknowledgement
// that is exactly prefix (`{"stream":"<name>","seq":`), the sequence's
// digits and "}", the form nats-server gives a stored message without a
// domain or a de-duplication; ok is false for anything else (an error, more
// fields, an overflowing number), which the caller decodes as JSON.
func pubAckSeq(data, prefix []byte) (seq uint64, ok bool) {
	digits, found := bytes.CutPrefix(data, prefix)
	if !found || len(digits) < 2 || digits[len(digits)-1] != '}' {
		return 0, false
	}
	digits = digits[:len(digits)-1]
	if len(digits) > 19 || digits[0] == '0' {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		seq = seq*10 + uint64(c-'0')
	}
	return seq, true
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
