package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/scorer/velocity"
	"github.com/fraudscore/fraudscore/worker"
)

// testMaxValue is the value limit the tests open the bucket with.
const testMaxValue = 64 << 10

// openBucket opens the velocity bucket of cfg on url with ttl.
func openBucket(t testing.TB, url string, cfg *worker.Config, ttl time.Duration) *worker.VelocityBucket {
	t.Helper()
	nc, _ := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := worker.OpenVelocityBucket(ctx, nc, cfg, worker.VelocityLimits{TTL: ttl, MaxValue: testMaxValue}, worker.VelocityBucketOptions{Logger: testLogger(t)})
	require.NoError(t, err)
	return b
}

// race runs every write at once (released together) and returns how many
// reported ok; an error fails t.
func race(t *testing.T, writes ...func() (bool, error)) int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		oks   = make([]bool, len(writes))
		errs  = make([]error, len(writes))
	)
	for i, w := range writes {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; oks[i], errs[i] = w() }()
	}
	close(start)
	wg.Wait()
	n := 0
	for i := range writes {
		require.NoError(t, errs[i])
		if oks[i] {
			n++
		}
	}
	return n
}

// checkCompareAndSet runs the Store contract against b: absent keys, create,
// create on an existing key, writers racing at one revision, a stale
// revision, a deleted and a purged key, an oversized value.
func checkCompareAndSet(t *testing.T, b *worker.VelocityBucket, kv jetstream.KeyValue) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	put := func(ctx context.Context, key string, value []byte, rev uint64) (bool, error) {
		t.Helper()
		newRev, ok, err := b.Put(ctx, key, value, rev)
		if ok {
			// The revision returned is the one a read gives: a write from a
			// cached state at it succeeds only if nothing wrote since.
			_, got, gerr := b.Get(ctx, key)
			require.NoError(t, gerr)
			require.Equal(t, got, newRev, "revision returned by a write to %s", key)
		} else {
			require.Zero(t, newRev)
		}
		return ok, err
	}

	v, rev, err := b.Get(ctx, "c.absent")
	require.NoError(t, err)
	assert.Nil(t, v)
	assert.Zero(t, rev)

	ok, err := put(ctx, "c.k", []byte("v1"), 0)
	require.NoError(t, err)
	require.True(t, ok, "create of a new key")
	v, rev, err = b.Get(ctx, "c.k")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(v))
	require.NotZero(t, rev)

	ok, err = put(ctx, "c.k", []byte("again"), 0)
	require.NoError(t, err)
	assert.False(t, ok, "create on an existing key")

	// Two writers at the same revision, 20 rounds: exactly one wins each
	// time, and the value stored is the winner's.
	for round := range 20 {
		_, rev, err := b.Get(ctx, "c.k")
		require.NoError(t, err)
		a, c := []byte(fmt.Sprintf("a%d", round)), []byte(fmt.Sprintf("c%d", round))
		var aOK bool
		n := race(t,
			func() (bool, error) { ok, err := put(ctx, "c.k", a, rev); aOK = ok; return ok, err },
			func() (bool, error) { return put(ctx, "c.k", c, rev) })
		require.Equal(t, 1, n, "round %d: writers at one revision that succeeded", round)
		got, _, err := b.Get(ctx, "c.k")
		require.NoError(t, err)
		want := c
		if aOK {
			want = a
		}
		require.True(t, bytes.Equal(want, got), "round %d: stored %q, the winner wrote %q", round, got, want)
	}
	_, rev, err = b.Get(ctx, "c.k")
	require.NoError(t, err)
	ok, err = put(ctx, "c.k", []byte("stale"), rev-1)
	require.NoError(t, err)
	assert.False(t, ok, "update at a stale revision")

	// Two creators of one new key: one wins.
	require.Equal(t, 1, race(t,
		func() (bool, error) { return put(ctx, "d.new", []byte("x"), 0) },
		func() (bool, error) { return put(ctx, "d.new", []byte("y"), 0) }))

	// A deleted or purged key is absent, and can be created again; two
	// creators of a deleted key race on the marker's revision (the server's
	// own error, not the client's ErrKeyExists): one wins.
	for _, op := range []struct {
		name   string
		remove func(context.Context, string, ...jetstream.KVDeleteOpt) error
	}{{"delete", kv.Delete}, {"purge", kv.Purge}} {
		key := "c." + op.name
		before, ok, err := b.Put(ctx, key, []byte("before"), 0)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, op.remove(ctx, key))
		// A writer still holding the removed value's revision (a cached
		// state) is refused: the value is gone.
		ok, err = put(ctx, key, []byte("from a stale cache"), before)
		require.NoError(t, err)
		assert.False(t, ok, "%s: a write at the removed value's revision", op.name)
		v, rev, err := b.Get(ctx, key)
		require.NoError(t, err)
		assert.Nil(t, v, op.name)
		assert.Zero(t, rev, op.name)
		require.Equal(t, 1, race(t,
			func() (bool, error) { return put(ctx, key, []byte("x"), 0) },
			func() (bool, error) { return put(ctx, key, []byte("y"), 0) }), op.name)
		v, rev, err = b.Get(ctx, key)
		require.NoError(t, err)
		assert.Contains(t, []string{"x", "y"}, string(v), op.name)
		assert.NotZero(t, rev, op.name)
	}

	// A value at the limit is stored, created or updated (with the header
	// of the expected revision); well above it is an error, not a conflict.
	ok, err = put(ctx, "c.fits", make([]byte, testMaxValue), 0)
	require.NoError(t, err)
	assert.True(t, ok, "a value at the limit is created")
	_, rev, err = b.Get(ctx, "c.fits")
	require.NoError(t, err)
	ok, err = put(ctx, "c.fits", make([]byte, testMaxValue), rev)
	require.NoError(t, err)
	assert.True(t, ok, "a value at the limit updates")
	ok, err = put(ctx, "c.big", make([]byte, 2*testMaxValue), 0)
	require.Error(t, err)
	assert.False(t, ok)

	// A cancelled context is an error the caller can recognise.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	_, _, err = b.Get(cctx, "c.k")
	require.ErrorIs(t, err, context.Canceled)
}

// The velocity bucket on a single server keeps the Store contract.
func TestVelocityBucketCompareAndSet(t *testing.T) {
	s := natstest.Start(t)
	cfg := testConfig(t)
	b := openBucket(t, s.ClientURL(), cfg, time.Hour)
	require.Equal(t, "VELOCITY", b.Bucket())
	js := natstest.JetStream(t, s.ClientURL())
	kv, err := js.KeyValue(context.Background(), cfg.VelocityBucket)
	require.NoError(t, err)
	checkCompareAndSet(t, b, kv)
}

// FRAUDSCORE_VELOCITY_STORAGE=memory creates the bucket in memory, which
// keeps the Store contract. A worker that then asks for file storage is
// refused at start with what to do (a stream's storage cannot change), not
// retried; one bound to the bucket (ENSURE_TOPOLOGY=false) uses it as it
// is. An unknown storage is a configuration problem.
func TestVelocityBucketMemoryStorage(t *testing.T) {
	s := natstest.Start(t)
	cfg := testConfig(t)
	cfg.VelocityStorage = "memory"
	ctx := context.Background()
	var logs bytes.Buffer
	nc0, _ := connect(t, s.ClientURL())
	b, err := worker.OpenVelocityBucket(ctx, nc0, cfg, worker.VelocityLimits{TTL: time.Hour, MaxValue: testMaxValue},
		worker.VelocityBucketOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	require.NoError(t, err)
	require.Contains(t, logs.String(), "velocity bucket in memory with one replica", "no warning for a bucket a server restart loses")
	js := natstest.JetStream(t, s.ClientURL())
	kv, err := js.KeyValue(ctx, cfg.VelocityBucket)
	require.NoError(t, err)
	st, err := kv.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, jetstream.MemoryStorage, st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage)
	checkCompareAndSet(t, b, kv)

	file := *cfg
	file.VelocityStorage = "file"
	nc, _ := connect(t, s.ClientURL())
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = worker.OpenVelocityBucket(octx, nc, &file, worker.VelocityLimits{TTL: time.Hour, MaxValue: testMaxValue}, worker.VelocityBucketOptions{Logger: testLogger(t)})
	require.ErrorIs(t, err, worker.ErrConfig)
	require.ErrorContains(t, err, "has memory storage and the worker's is file (FRAUDSCORE_VELOCITY_STORAGE=file)")
	require.NoError(t, octx.Err(), "a storage mismatch is not retried")

	file.EnsureTopology = false
	logs.Reset()
	nc1, _ := connect(t, s.ClientURL())
	bound, err := worker.OpenVelocityBucket(ctx, nc1, &file, worker.VelocityLimits{TTL: time.Hour, MaxValue: testMaxValue},
		worker.VelocityBucketOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	require.NoError(t, err)
	require.Contains(t, logs.String(), `"msg":"velocity bucket storage differs from FRAUDSCORE_VELOCITY_STORAGE; the bucket is used as it is"`)
	require.Contains(t, logs.String(), `"bucket_storage":"memory","setting":"file"`)
	_, ok, err := bound.Put(ctx, "c.bound", []byte("v"), 0)
	require.NoError(t, err)
	require.True(t, ok)

	bad := worker.DefaultConfig()
	bad.VelocityStorage = "ssd"
	require.Contains(t, bad.Problems(), `FRAUDSCORE_VELOCITY_STORAGE="ssd" must be file or memory`)
}

// A memory bucket with three replicas keeps its state through a rolling
// restart of the cluster (each node restarted after the others have it,
// catching up from them), and loses it when every node restarts at once:
// what docs/velocity.md says of FRAUDSCORE_VELOCITY_STORAGE=memory.
func TestVelocityBucketMemoryReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a three-node cluster")
	}
	cl := natstest.NewCluster(t, 3)
	for i := range 3 {
		cl.Start(i)
	}
	natstest.WaitJetStreamLeader(t, 30*time.Second, cl.Server(0), cl.Server(1), cl.Server(2))
	cfg := testConfig(t)
	cfg.Replicas, cfg.VelocityStorage = 3, "memory"
	b := openBucket(t, cl.ClientURL(), cfg, time.Hour)
	ctx := context.Background()
	const keys = 50
	for i := range keys {
		_, ok, err := b.Put(ctx, fmt.Sprintf("c.%d", i), []byte(fmt.Sprint("v", i)), 0)
		require.NoError(t, err)
		require.True(t, ok)
	}
	stream := "KV_" + cfg.VelocityBucket
	// allHold: every node's own replica of the stream holds every value, so
	// any one node may restart without losing one. (The stream's info is the
	// leader's view, which reports a restarted replica as current for a
	// moment before it has asked to catch up; each node's Jsz is its own.)
	allHold := func() bool {
		for n := range 3 {
			jsz, err := cl.Server(n).Jsz(&server.JSzOptions{Accounts: true, Streams: true})
			if err != nil {
				return false
			}
			held := false
			for _, acc := range jsz.AccountDetails {
				for _, sd := range acc.Streams {
					held = held || sd.Name == stream && sd.State.Msgs == keys
				}
			}
			if !held {
				return false
			}
		}
		return true
	}
	count := func() int {
		n := 0
		for i := range keys {
			v, _, err := b.Get(ctx, fmt.Sprintf("c.%d", i))
			require.NoError(t, err)
			if string(v) == fmt.Sprint("v", i) {
				n++
			}
		}
		return n
	}
	for i := range 3 {
		require.Eventually(t, allHold, 60*time.Second, 100*time.Millisecond, "a replica lacks values before restarting node %d", i)
		cl.Stop(i)
		cl.Start(i)
	}
	require.Eventually(t, allHold, 60*time.Second, 100*time.Millisecond, "a replica lacks values after the rolling restart")
	require.Equal(t, keys, count(), "values lost in a rolling restart")

	for i := range 3 {
		cl.Stop(i)
	}
	for i := range 3 {
		cl.Start(i)
	}
	natstest.WaitJetStreamLeader(t, 60*time.Second, cl.Server(0), cl.Server(1), cl.Server(2))
	require.Eventually(t, func() bool {
		gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, _, err := b.Get(gctx, "c.0")
		return err == nil
	}, 60*time.Second, 100*time.Millisecond, "the bucket did not answer after the full restart")
	require.Zero(t, count(), "a memory bucket kept values through a restart of every node")
}

// On a replicated bucket (three nodes, R3) the server answers a conflict
// with another code (10164, not 10071): the contract holds all the same.
func TestVelocityBucketCompareAndSetReplicated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	cl := natstest.NewCluster(t, 3)
	s0, s1, s2 := cl.Start(0), cl.Start(1), cl.Start(2)
	natstest.WaitJetStreamLeader(t, 30*time.Second, s0, s1, s2)
	cfg := testConfig(t)
	cfg.Replicas = 3
	b := openBucket(t, cl.ClientURL(), cfg, time.Hour)
	js := natstest.JetStream(t, cl.ClientURL())
	kv, err := js.KeyValue(context.Background(), cfg.VelocityBucket)
	require.NoError(t, err)
	st, err := kv.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, 3, st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas)
	checkCompareAndSet(t, b, kv)
}

// A value removed by the bucket's TTL is gone for a writer that still holds
// its revision (velocity's cached state of an idle key): that write is a
// conflict, not a success over expired state, and a create succeeds.
func TestVelocityBucketExpiredRevision(t *testing.T) {
	s := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := openBucket(t, s.ClientURL(), testConfig(t), time.Second)
	rev, ok, err := b.Put(ctx, "c.idle", []byte("day-old state"), 0)
	require.NoError(t, err)
	require.True(t, ok)
	require.Eventually(t, func() bool {
		v, r, err := b.Get(ctx, "c.idle")
		return err == nil && v == nil && r == 0
	}, 30*time.Second, 50*time.Millisecond, "the value did not expire")
	_, ok, err = b.Put(ctx, "c.idle", []byte("written over expired state"), rev)
	require.NoError(t, err)
	require.False(t, ok, "a write at an expired value's revision succeeded")
	_, ok, err = b.Put(ctx, "c.idle", []byte("fresh"), 0)
	require.NoError(t, err)
	require.True(t, ok, "creating the expired key")
}

// A write that finds no stream (its bucket deleted, or between leaders)
// is sent again until its context ends: the deadline is its error, and
// once the stream is back within the deadline the write succeeds.
func TestVelocityBucketRetriesNoResponders(t *testing.T) {
	s := natstest.Start(t)
	cfg := testConfig(t)
	js := natstest.JetStream(t, s.ClientURL())
	natstest.KeepStreamsDir(t, js) // the bucket is deleted and created again
	b := openBucket(t, s.ClientURL(), cfg, time.Hour)
	ctx := context.Background()
	require.NoError(t, js.DeleteKeyValue(ctx, cfg.VelocityBucket))

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, ok, err := b.Put(short, "c.k", []byte("v"), 0)
	require.False(t, ok)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, nats.ErrNoResponders, "the last error is kept")

	done := make(chan error, 1)
	go func() {
		long, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, ok, err := b.Put(long, "c.k", []byte("v"), 0)
		if err == nil && !ok {
			err = errors.New("not stored")
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the write meet no stream first (not a synchronisation)
	openBucket(t, s.ClientURL(), cfg, time.Hour)
	require.NoError(t, <-done)
	v, _, err := b.Get(ctx, "c.k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
}

// Opening the bucket again with another TTL updates it in place, keeping
// its values; bound to a bucket managed elsewhere (ENSURE_TOPOLOGY=false)
// the worker changes nothing, and a missing bucket is an error at once.
func TestVelocityBucketConfigUpdate(t *testing.T) {
	s := natstest.Start(t)
	cfg := testConfig(t)
	ctx := context.Background()
	b := openBucket(t, s.ClientURL(), cfg, time.Hour)
	_, ok, err := b.Put(ctx, "c.kept", []byte("v"), 0)
	require.NoError(t, err)
	require.True(t, ok)

	js := natstest.JetStream(t, s.ClientURL())
	status := func() jetstream.KeyValueStatus {
		kv, err := js.KeyValue(ctx, cfg.VelocityBucket)
		require.NoError(t, err)
		st, err := kv.Status(ctx)
		require.NoError(t, err)
		return st
	}
	st := status()
	require.Equal(t, time.Hour, st.TTL())
	require.EqualValues(t, 1, st.History())
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
	require.Equal(t, jetstream.FileStorage, info.Storage)
	require.Greater(t, info.MaxMsgSize, int32(testMaxValue))
	require.Less(t, info.MaxMsgSize, int32(2*testMaxValue))

	b = openBucket(t, s.ClientURL(), cfg, 2*time.Hour)
	require.Equal(t, 2*time.Hour, status().TTL())
	v, _, err := b.Get(ctx, "c.kept")
	require.NoError(t, err)
	require.Equal(t, "v", string(v), "the value outlives the update")

	bound := *cfg
	bound.EnsureTopology = false
	openBucket(t, s.ClientURL(), &bound, 3*time.Hour)
	require.Equal(t, 2*time.Hour, status().TTL(), "a bound bucket is not changed")

	// A bound bucket that mirrors the velocity bucket is refused: velocity
	// writes to its bucket's own subjects, which a mirror has not.
	_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "VELOCITY_COPY", Mirror: &jetstream.StreamSource{Name: cfg.VelocityBucket}})
	require.NoError(t, err)
	mirrored := bound
	mirrored.VelocityBucket = "VELOCITY_COPY"
	mctx, mcancel := context.WithTimeout(ctx, 30*time.Second)
	defer mcancel()
	mnc, _ := connect(t, s.ClientURL())
	_, err = worker.OpenVelocityBucket(mctx, mnc, &mirrored, worker.VelocityLimits{TTL: time.Hour, MaxValue: testMaxValue}, worker.VelocityBucketOptions{Logger: testLogger(t)})
	require.ErrorIs(t, err, worker.ErrConfig)
	// With ENSURE_TOPOLOGY=true it is refused too, rather than updated:
	// an update without the mirror would promote it to an origin.
	mirrored.EnsureTopology = true
	_, err = worker.OpenVelocityBucket(mctx, mnc, &mirrored, worker.VelocityLimits{TTL: time.Hour, MaxValue: testMaxValue}, worker.VelocityBucketOptions{Logger: testLogger(t)})
	require.ErrorIs(t, err, worker.ErrConfig)
	require.ErrorContains(t, err, "mirrors KV_"+cfg.VelocityBucket)
	require.NoError(t, mctx.Err(), "a mirror is not retried")
	copyInfo, err := js.Stream(ctx, "KV_VELOCITY_COPY")
	require.NoError(t, err)
	require.NotNil(t, copyInfo.CachedInfo().Config.Mirror, "the mirror was promoted")

	bound.VelocityBucket = "MISSING"
	nc, _ := connect(t, s.ClientURL())
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = worker.OpenVelocityBucket(octx, nc, &bound, worker.VelocityLimits{TTL: time.Hour, MaxValue: testMaxValue}, worker.VelocityBucketOptions{Logger: testLogger(t)})
	require.Error(t, err)
	require.True(t, errors.Is(err, jetstream.ErrBucketNotFound), "%v", err)
	require.NoError(t, octx.Err(), "a missing bucket is not retried")
}

// Against a fresh three-node cluster of which one node runs (no meta
// leader), opening the bucket retries transient failures, counted, until
// the cluster forms; cancelled meanwhile, it stops with the context's error.
func TestOpenVelocityBucketRetriesUntilTheClusterForms(t *testing.T) {
	cl := natstest.NewCluster(t, 3)
	cl.Start(0)
	cfg := testConfig(t)
	cfg.Replicas = 3
	nc, _ := connect(t, cl.ClientURL())
	m := worker.NewMetrics(prometheus.NewRegistry(), "test", "test")
	opts := worker.VelocityBucketOptions{Metrics: m, Logger: testLogger(t),
		Retry: worker.SetupRetry{AttemptTimeout: time.Second, MinDelay: 50 * time.Millisecond, MaxDelay: 500 * time.Millisecond}}
	lim := worker.VelocityLimits{TTL: time.Hour, MaxValue: testMaxValue}

	cctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { _, err := worker.OpenVelocityBucket(cctx, nc, cfg, lim, opts); stopped <- err }()
	require.Eventually(t, func() bool { return metricValue(t, m.SetupRetries) >= 1 }, 60*time.Second, 20*time.Millisecond,
		"no transient failure counted against a cluster without a meta leader")
	cancel()
	select {
	case err := <-stopped:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(30 * time.Second):
		t.Fatal("OpenVelocityBucket did not stop when its context was cancelled")
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel2()
	opened := make(chan error, 1)
	var b *worker.VelocityBucket
	go func() { var err error; b, err = worker.OpenVelocityBucket(ctx, nc, cfg, lim, opts); opened <- err }()
	retries := metricValue(t, m.SetupRetries)
	require.Eventually(t, func() bool { return metricValue(t, m.SetupRetries) > retries }, 60*time.Second, 20*time.Millisecond)
	cl.Start(1)
	cl.Start(2)
	select {
	case err := <-opened:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("the bucket never opened after the cluster formed")
	}
	_, ok, err := b.Put(ctx, "c.formed", []byte("v"), 0)
	require.NoError(t, err)
	require.True(t, ok)
}

// A memory bucket that reaches the server's max_memory_store refuses
// writes, and the events whose state cannot be stored are scored without
// velocity, counted as store degrades: what docs/velocity.md says of
// sizing FRAUDSCORE_VELOCITY_STORAGE=memory. The fault is shown to happen
// (the bucket holds about the limit, and a write is refused for want of
// resources) before its effect is checked.
func TestVelocityMemoryBucketAtItsLimit(t *testing.T) {
	const limit = 64 << 10
	opts := natstest.ServerOptions(t)
	opts.JetStreamMaxMemory = limit
	s := natstest.StartOptions(t, opts)
	cfg := testConfig(t)
	cfg.VelocityStorage = "memory"
	b := openBucket(t, s.ClientURL(), cfg, time.Hour)
	reg := prometheus.NewRegistry()
	v, err := velocity.New(b, velocity.DefaultConfig(), velocity.Options{Registerer: reg, Logger: testLogger(t)})
	require.NoError(t, err)

	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	stored, degradedAt := 0, -1
	for i := range 5000 {
		ev := contracts.TransactionEvent{TransactionID: fmt.Sprintf("full-%d", i), EventTime: t0.Add(time.Duration(i) * time.Millisecond),
			CardToken: fmt.Sprintf("full-card-%d", i), AmountMinor: 100, Currency: "EUR"}
		require.NoError(t, v.Enrich(ctx, &ev), "an event is scored whether or not its state is stored")
		if gathered(t, reg, "fraudscore_velocity_degraded_total") > 0 {
			degradedAt = i
			require.True(t, ev.Aggregates == nil || ev.Aggregates.CardTxnCount1h == nil, "a degraded event carries no computed card aggregate")
			break
		}
		require.True(t, ev.Aggregates != nil && ev.Aggregates.CardTxnCount1h != nil, "event %d before the limit has its card aggregate", i)
		stored++
	}
	require.Positive(t, degradedAt, "the bucket never refused a write within 5000 new cards")

	js := natstest.JetStream(t, s.ClientURL())
	st, err := js.Stream(ctx, "KV_"+cfg.VelocityBucket)
	require.NoError(t, err)
	state := st.CachedInfo().State
	assert.EqualValues(t, stored, state.Msgs, "every event before the refusal was stored, none after")
	assert.Greater(t, state.Bytes, uint64(limit/2), "the bucket holds about the server's memory limit")
	assert.Less(t, state.Bytes, uint64(limit+1024), "the server lets the write that crosses its limit through, no more")
	_, _, err = b.Put(ctx, "c.one-more", []byte("v"), 0)
	var apiErr *jetstream.APIError
	require.ErrorAs(t, err, &apiErr, "a write to a full memory bucket is refused by the server")
	// nats-server's JSInsufficientResourcesErr (503, "insufficient resources").
	const insufficientResources = 10023
	assert.EqualValues(t, insufficientResources, apiErr.ErrorCode, "%v", err)

	assert.Equal(t, 1.0, gathered(t, reg, "fraudscore_velocity_degraded_total"), "one degraded event, the first refused")
	assert.Equal(t, 1.0, gathered(t, reg, "fraudscore_velocity_degraded_total", "reason", "store"), "the first refused event is a store degrade")
}
