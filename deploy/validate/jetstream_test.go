package validate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/internal/testenv"
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
			if _, ok := want[filepath.Join(sub, e.Name())]; !ok && filepath.Ext(e.Name()) == ".json" {
				t.Errorf("deploy/jetstream/%s/%s matches nothing the worker creates", sub, e.Name())
			}
		}
	}
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
