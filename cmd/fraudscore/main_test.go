package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/synthetic"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// waitReady waits until the worker's side port at addr reports ready.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 30*time.Second, 50*time.Millisecond, "never ready")
}

func TestHelpListsEveryVariable(t *testing.T) {
	out, err := exec.Command(fraudscore(t), "--help").CombinedOutput()
	require.NoError(t, err)
	for _, v := range []string{"FRAUDSCORE_NATS_URL", "FRAUDSCORE_NATS_CREDS_FILE", "FRAUDSCORE_NATS_CA_FILE", "FRAUDSCORE_STREAM",
		"FRAUDSCORE_CONSUMER", "FRAUDSCORE_MODEL_DIR", "FRAUDSCORE_CONCURRENCY", "FRAUDSCORE_BATCH_SIZE", "FRAUDSCORE_ACK_WAIT",
		"FRAUDSCORE_MAX_DELIVER", "FRAUDSCORE_BACKOFF", "FRAUDSCORE_HTTP_ADDR", "FRAUDSCORE_LOG_LEVEL", "FRAUDSCORE_DRAIN_TIMEOUT",
		"FRAUDSCORE_EMBEDDED", "nats://127.0.0.1:4222", "5s,15s,30s,60s"} {
		assert.Contains(t, string(out), v)
	}
}

func TestInvalidConfigurationExitsBeforeConnecting(t *testing.T) {
	cmd := exec.Command(fraudscore(t), "worker")
	cmd.Env = append(os.Environ(), "FRAUDSCORE_MAX_DELIVER=1", "FRAUDSCORE_BATCH_SIZE=0", "FRAUDSCORE_NATS_URL=nats://127.0.0.1:1",
		"FRAUDSCORE_NATS_CREDS_FILE=/nonexistent/user.creds", "FRAUDSCORE_LOG_LEVEL=loud")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 2, ee.ExitCode())
	for _, s := range []string{"FRAUDSCORE_MAX_DELIVER", "FRAUDSCORE_BATCH_SIZE", "FRAUDSCORE_NATS_CREDS_FILE", "FRAUDSCORE_LOG_LEVEL"} {
		assert.Contains(t, string(out), s)
	}
	assert.NotContains(t, string(out), "connect", "it must fail before connecting")

	// Values that do not parse are reported with the rules that fail, all
	// of them, not only the first.
	cmd = exec.Command(fraudscore(t), "worker")
	cmd.Env = append(os.Environ(), "FRAUDSCORE_ACK_WAIT=soon", "FRAUDSCORE_CONCURRENCY=many", "FRAUDSCORE_EMBEDDED=maybe",
		"FRAUDSCORE_BATCH_SIZE=0", "FRAUDSCORE_MODEL_DIR="+testenv.ModelDir(t))
	out, err = cmd.CombinedOutput()
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 2, ee.ExitCode())
	for _, s := range []string{`FRAUDSCORE_ACK_WAIT="soon" is not a duration`, `FRAUDSCORE_CONCURRENCY="many" is not an integer`,
		`FRAUDSCORE_EMBEDDED="maybe" is not true or false`, "FRAUDSCORE_BATCH_SIZE=0 must be 1..10000"} {
		assert.Contains(t, string(out), s)
	}
}

// The `make run` smoke test: embedded server, bundled model, demo traffic;
// the worker becomes ready, answers a request, shows verdicts, and stops
// cleanly on SIGTERM.
func TestEmbeddedRunSmoke(t *testing.T) {
	natsAddr, monAddr, httpAddr := freePort(t), freePort(t), freePort(t)
	cmd := exec.Command(fraudscore(t), "worker")
	cmd.Env = append(os.Environ(),
		"FRAUDSCORE_EMBEDDED=true",
		"FRAUDSCORE_EMBEDDED_STORE_DIR="+t.TempDir(),
		"FRAUDSCORE_EMBEDDED_LISTEN="+natsAddr,
		"FRAUDSCORE_EMBEDDED_MONITOR="+monAddr,
		"FRAUDSCORE_HTTP_ADDR="+httpAddr,
		"FRAUDSCORE_MODEL_DIR="+testenv.ModelDir(t),
		"FRAUDSCORE_DEMO_RATE=200",
		"FRAUDSCORE_PULL_EXPIRY=1s",
		"FRAUDSCORE_PROGRESS_INTERVAL=500ms",
	)
	logs, exited := startLogged(t, cmd)

	waitReady(t, httpAddr)

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
		for _, r := range logs.matching(msgIs("progress")) {
			if r["demo_sent"].(float64) > 0 && r["approve"].(float64) > 0 {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "no progress line with demo traffic")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-exited:
		require.NoError(t, err, "clean exit on SIGTERM")
	case <-ctx.Done():
		t.Fatal("no exit after SIGTERM")
	}
	all := logs.all()
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
	latest, err := os.Readlink(filepath.Join("..", "..", "models", "latest"))
	require.NoError(t, err)
	out, err := exec.Command(fraudscore(t), "model", "check", latest, "-dir", testenv.ModelDir(t)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), latest+" ok")
	out, err = exec.Command(fraudscore(t), "model", "check", latest, "-dir", t.TempDir()).CombinedOutput()
	require.Error(t, err, "the -dir after the version must be honoured: %s", out)
}
