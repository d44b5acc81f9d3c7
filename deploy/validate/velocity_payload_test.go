package validate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// TestVelocityStateFitsMaxPayload: the velocity bucket's value limit (the
// largest card state the default settings write, with room for headers:
// deploy/jetstream/streams/KV_VELOCITY.json, equal to what the worker
// creates by TestJetStreamBucketDefinitions) fits the max_payload of every
// server configuration deploy/ ships; a larger state would be refused at
// write and its card scored without velocity (degraded) once it grew that
// far.
func TestVelocityStateFitsMaxPayload(t *testing.T) {
	var bucket struct {
		MaxMsgSize int `json:"max_msg_size"`
	}
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy/jetstream/streams/KV_VELOCITY.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &bucket); err != nil || bucket.MaxMsgSize <= 0 {
		t.Fatalf("KV_VELOCITY.json max_msg_size %d: %v", bucket.MaxMsgSize, err)
	}
	re := regexp.MustCompile(`(?m)^max_payload:\s*(\d+)KB\s*$`)
	for _, conf := range []string{"deploy/nats/nats.conf", "deploy/security/nats-server.conf"} {
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), conf))
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s: no max_payload: NNKB line", conf)
		}
		kb, _ := strconv.Atoi(string(m[1]))
		if limit := kb * 1024; bucket.MaxMsgSize > limit {
			t.Errorf("%s: max_payload %d bytes < the velocity bucket's value limit %d (lower FRAUDSCORE_VELOCITY_MAX_ENTRIES or raise max_payload)",
				conf, limit, bucket.MaxMsgSize)
		}
	}
}
