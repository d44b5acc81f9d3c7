package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/scorer/velocity"
	"github.com/fraudscore/fraudscore/worker"
)

var update = flag.Bool("update", false, "rewrite deploy/jetstream from worker.StreamConfigs (Replicas 3)")

// clusterConfig is the worker's default configuration with Replicas 3.
func clusterConfig(t *testing.T) *worker.Config {
	t.Helper()
	cfg := worker.DefaultConfig()
	cfg.Replicas = 3
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// TestJetStreamDefinitions: deploy/jetstream/{streams,consumers}/*.json (for
// `nats stream add --config` and `nats consumer add --config`, where the
// worker runs with FRAUDSCORE_ENSURE_TOPOLOGY=false) equal what the worker
// itself creates with FRAUDSCORE_STREAM_REPLICAS=3 and default settings.
func TestJetStreamDefinitions(t *testing.T) {
	cfg := clusterConfig(t)
	dir := filepath.Join(testenv.RepoRoot(t), "deploy", "jetstream")
	want := map[string]any{}
	for _, sc := range worker.StreamConfigs(cfg) {
		want[filepath.Join("streams", sc.Name+".json")] = sc
	}
	want[filepath.Join("consumers", cfg.Stream+"."+cfg.Consumer+".json")] = worker.ConsumerConfig(cfg)
	want[filepath.Join("consumers", cfg.AdvisoryStream+"."+cfg.AdvisoryConsumr+".json")] = worker.AdvisoryConsumerConfig(cfg)
	// The label join's stream and consumers (FRAUDSCORE_LABELS=true) and the
	// archive (FRAUDSCORE_ARCHIVE=true), with their default settings.
	lc := worker.DefaultLabelConfig()
	for _, sc := range []jetstream.StreamConfig{worker.LabelStreamConfig(cfg, &lc), worker.ArchiveStreamConfig(cfg)} {
		want[filepath.Join("streams", sc.Name+".json")] = sc
	}
	want[filepath.Join("consumers", lc.Stream+"."+lc.Consumer+".json")] = worker.LabelConsumerConfig(cfg, &lc)
	want[filepath.Join("consumers", cfg.VerdictStream+"."+lc.IndexConsumer+".json")] = worker.VerdictIndexConsumerConfig(cfg, &lc)
	buckets := bucketDefinitions(t, cfg)

	for _, rel := range sortedKeys(want) {
		path := filepath.Join(dir, rel)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // "payments.transactions.>", not \u003e
		enc.SetIndent("", "  ")
		if err := enc.Encode(want[rel]); err != nil {
			t.Fatal(err)
		}
		js := buf.Bytes()
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, js, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (go test ./deploy/validate -run TestJetStreamDefinitions -update)", rel, err)
			continue
		}
		// Compare decoded configs, so formatting does not matter.
		switch w := want[rel].(type) {
		case jetstream.StreamConfig:
			var g jetstream.StreamConfig
			if err := strictJSON(got, &g); err != nil {
				t.Errorf("%s: %v", rel, err)
			} else if !reflect.DeepEqual(g, w) {
				t.Errorf("%s differs from worker.StreamConfigs:\n got %+v\nwant %+v", rel, g, w)
			}
			if g.Replicas != 3 {
				t.Errorf("%s: replicas %d, want 3", rel, g.Replicas)
			}
		case jetstream.ConsumerConfig:
			var g jetstream.ConsumerConfig
			if err := strictJSON(got, &g); err != nil {
				t.Errorf("%s: %v", rel, err)
			} else if !reflect.DeepEqual(g, w) {
				t.Errorf("%s differs from the worker's consumer config:\n got %+v\nwant %+v", rel, g, w)
			}
			if g.Replicas != 3 {
				t.Errorf("%s: replicas %d, want 3", rel, g.Replicas)
			}
		}
	}
	// No stale definitions.
	for _, sub := range []string{"streams", "consumers"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			_, bucket := buckets[filepath.Join(sub, e.Name())]
			if _, ok := want[filepath.Join(sub, e.Name())]; !ok && !bucket && filepath.Ext(e.Name()) == ".json" {
				t.Errorf("deploy/jetstream/%s/%s matches nothing the worker creates", sub, e.Name())
			}
		}
	}
}

// bucketDefinitions returns the KV buckets the worker creates, by the path
// of their stream's definition (deploy/jetstream/streams/KV_<bucket>.json).
func bucketDefinitions(t *testing.T, cfg *worker.Config) map[string]jetstream.KeyValueConfig {
	t.Helper()
	lc := worker.DefaultLabelConfig()
	out := map[string]jetstream.KeyValueConfig{}
	vc := velocity.DefaultConfig() // as cmd/fraudscore sizes the velocity bucket
	lim := worker.VelocityLimits{TTL: vc.Retention(), MaxValue: velocity.CardStateBytes(vc.MaxEntries, vc.MaxDevicesPerCard)}
	for _, kc := range append(worker.LabelBucketConfigs(cfg, &lc), worker.VelocityBucketConfig(cfg, lim)) {
		out[filepath.Join("streams", "KV_"+kc.Bucket+".json")] = kc
	}
	return out
}

// TestJetStreamBucketDefinitions: the streams of the worker's KV buckets
// (deploy/jetstream/streams/KV_<bucket>.json, for `nats stream add
// --config`) are the streams the worker's own code creates, and the KV
// client binds to them as buckets. A bucket's stream is what nats.go makes
// of a jetstream.KeyValueConfig (private to nats.go), so each is checked on
// a real server: the bucket created by CreateKeyValue from the worker's
// configuration and the stream created from the file (both with one
// replica on the single test server) must be configured alike.
func TestJetStreamBucketDefinitions(t *testing.T) {
	cfg := clusterConfig(t)
	dir := filepath.Join(testenv.RepoRoot(t), "deploy", "jetstream")
	s := natstest.Start(t)
	js := natstest.JetStream(t, s.ClientURL())
	natstest.KeepStreamsDir(t, js) // each bucket's stream is deleted and created again
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	buckets := bucketDefinitions(t, cfg)
	for _, rel := range sortedKeys(buckets) {
		kc := buckets[rel]
		kc.Replicas = 1
		kv, err := js.CreateKeyValue(ctx, kc)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		name := "KV_" + kv.Bucket()
		info, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		byWorker := info.CachedInfo().Config
		if err := js.DeleteStream(ctx, name); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, rel)
		if *update {
			def := byWorker
			def.Replicas, def.Metadata = 3, nil // the server's own metadata (version) is not configuration
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(def); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (go test ./deploy/validate -run TestJetStreamBucketDefinitions -update)", rel, err)
			continue
		}
		var def jetstream.StreamConfig
		if err := strictJSON(data, &def); err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if def.Replicas != 3 {
			t.Errorf("%s: replicas %d, want 3", rel, def.Replicas)
		}
		def.Replicas = 1
		if _, err := js.CreateStream(ctx, def); err != nil {
			t.Errorf("%s: nats stream add would fail: %v", rel, err)
			continue
		}
		info, err = js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		fromFile := info.CachedInfo().Config
		byWorker.Metadata, fromFile.Metadata = nil, nil
		if !reflect.DeepEqual(fromFile, byWorker) {
			t.Errorf("%s: the stream it creates differs from the worker's bucket:\n file %+v\nworker %+v", rel, fromFile, byWorker)
		}
		// The worker binds to it (FRAUDSCORE_ENSURE_TOPOLOGY=false) and
		// reads and writes keys.
		bound, err := js.KeyValue(ctx, kc.Bucket)
		if err != nil {
			t.Errorf("%s: the KV client does not bind to it: %v", rel, err)
			continue
		}
		if _, err := bound.Create(ctx, "k", []byte("v")); err != nil {
			t.Errorf("%s: create a key: %v", rel, err)
		}
		if e, err := bound.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
			t.Errorf("%s: get a key: %v", rel, err)
		}
	}
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
