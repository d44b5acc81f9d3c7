package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/synthetic"
)

func TestHelpListsEveryVariable(t *testing.T) {
	r := runBin(t, "", nil, "--help")
	require.Zero(t, r.code, r.stderr)
	out := r.stdout + r.stderr
	for _, v := range []string{"FRAUDSCORE_NATS_URL", "FRAUDSCORE_NATS_CREDS_FILE", "FRAUDSCORE_NATS_CA_FILE", "FRAUDSCORE_STREAM",
		"FRAUDSCORE_CONSUMER", "FRAUDSCORE_MODEL_DIR", "FRAUDSCORE_CONCURRENCY", "FRAUDSCORE_BATCH_SIZE", "FRAUDSCORE_ACK_WAIT",
		"FRAUDSCORE_MAX_DELIVER", "FRAUDSCORE_BACKOFF", "FRAUDSCORE_HTTP_ADDR", "FRAUDSCORE_LOG_LEVEL", "FRAUDSCORE_DRAIN_TIMEOUT",
		"FRAUDSCORE_EMBEDDED", "nats://127.0.0.1:4222", "5s,15s,30s,60s"} {
		assert.Contains(t, out, v)
	}
}

func TestInvalidConfigurationExitsBeforeConnecting(t *testing.T) {
	r := runBin(t, "", []string{"FRAUDSCORE_MAX_DELIVER=1", "FRAUDSCORE_BATCH_SIZE=0", "FRAUDSCORE_NATS_URL=nats://127.0.0.1:1",
		"FRAUDSCORE_NATS_CREDS_FILE=/nonexistent/user.creds", "FRAUDSCORE_LOG_LEVEL=loud"}, "worker")
	assert.Equal(t, 2, r.code)
	out := r.stdout + r.stderr
	for _, s := range []string{"FRAUDSCORE_MAX_DELIVER", "FRAUDSCORE_BATCH_SIZE", "FRAUDSCORE_NATS_CREDS_FILE", "FRAUDSCORE_LOG_LEVEL"} {
		assert.Contains(t, out, s)
	}
	assert.NotContains(t, out, "connect", "it must fail before connecting")

	// Values that do not parse are reported with the rules that fail, all
	// of them, not only the first.
	r = runBin(t, "", []string{"FRAUDSCORE_ACK_WAIT=soon", "FRAUDSCORE_CONCURRENCY=many", "FRAUDSCORE_EMBEDDED=maybe",
		"FRAUDSCORE_BATCH_SIZE=0", "FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t)}, "worker")
	assert.Equal(t, 2, r.code)
	out = r.stdout + r.stderr
	for _, s := range []string{`FRAUDSCORE_ACK_WAIT="soon" is not a duration`, `FRAUDSCORE_CONCURRENCY="many" is not an integer`,
		`FRAUDSCORE_EMBEDDED="maybe" is not true or false`, "FRAUDSCORE_BATCH_SIZE=0 must be 1..10000"} {
		assert.Contains(t, out, s)
	}
}

// The `make run` smoke test: embedded server, bundled model, demo traffic;
// the worker becomes ready, answers a request, shows verdicts, and stops
// cleanly on SIGTERM.
func TestEmbeddedRunSmoke(t *testing.T) {
	natsAddr, monAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	w, httpAddr := startWorker(t,
		"FRAUDSCORE_EMBEDDED_LISTEN="+natsAddr,
		"FRAUDSCORE_EMBEDDED_MONITOR="+monAddr,
		"FRAUDSCORE_DEMO_RATE=200",
		"FRAUDSCORE_PROGRESS_INTERVAL=500ms",
	)
	w.WaitHTTP(t, "http://"+httpAddr+"/readyz", 30*time.Second)

	nc, err := nats.Connect("nats://" + natsAddr)
	require.NoError(t, err)
	defer nc.Close()
	ev, _ := synthetic.New(synthetic.Config{Seed: 42, Now: time.Now, IDPrefix: "smoke-"}).Next()
	data, _ := json.Marshal(&ev)
	resp, err := nc.Request(contracts.SubjectScore, data, 5*time.Second)
	require.NoError(t, err)
	var vd contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(resp.Data, &vd))
	assert.Equal(t, "smoke-1", vd.TransactionID)
	assert.True(t, vd.Decision.Valid())

	// The embedded server serves monitoring like a real one (KEDA reads /jsz).
	jsz, err := http.Get("http://" + monAddr + "/jsz?consumers=true")
	require.NoError(t, err)
	body, _ := io.ReadAll(jsz.Body)
	jsz.Body.Close()
	assert.Contains(t, string(body), "TRANSACTIONS")

	// Demo verdicts are flowing.
	require.Eventually(t, func() bool {
		r, err := http.Get("http://" + httpAddr + "/metrics")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return strings.Contains(string(b), `fraudscore_verdicts_total{decision="approve",source="stream"}`)
	}, 20*time.Second, 100*time.Millisecond)

	// The progress line carries the demo publisher's counts beside the
	// worker's.
	require.Eventually(t, func() bool {
		for _, r := range testenv.Matching(w.Records(), testenv.MsgIs("progress")) {
			if r["demo_sent"].(float64) > 0 && r["approve"].(float64) > 0 {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "no progress line with demo traffic")

	require.NoError(t, w.Stop(30*time.Second), "clean exit on SIGTERM")
	all := strings.Split(strings.TrimSuffix(w.Output(), "\n"), "\n")
	joined := strings.Join(all, "\n")
	assert.Contains(t, joined, `"msg":"drained"`)
	assert.Contains(t, joined, `"msg":"stopped"`)
	assert.NotContains(t, joined, ev.CardToken, "no card tokens in logs")
	for _, l := range all {
		var rec map[string]any
		assert.NoError(t, json.Unmarshal([]byte(l), &rec), "every log line is JSON: %s", l)
	}
}

func TestModelFlagsAfterArguments(t *testing.T) {
	latest := testenv.BundledVersion(t)
	r := runBin(t, "", nil, "model", "check", latest, "-dir", testenv.ModelDir(t))
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, latest+" ok")
	r = runBin(t, "", nil, "model", "check", latest, "-dir", t.TempDir())
	require.NotZero(t, r.code, "the -dir after the version must be honoured: %s", r.stdout)
}
