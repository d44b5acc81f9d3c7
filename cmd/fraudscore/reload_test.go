package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// A worker started on a tampered model stays up and not ready, survives
// SIGHUP (which used to kill a worker still waiting for a good model), and
// becomes ready when latest points at a good version and SIGHUP arrives.
func TestSIGHUPBeforeFirstGoodModel(t *testing.T) {
	src := testenv.ModelDir(t)
	good, err := os.Readlink(filepath.Join(src, "latest"))
	require.NoError(t, err)
	dir := t.TempDir()
	copyDir := func(from, to string, tamper bool) {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, to), 0o755))
		for _, f := range []string{"model.json", "metadata.json"} {
			b, err := os.ReadFile(filepath.Join(src, from, f))
			require.NoError(t, err)
			if tamper && f == "model.json" {
				b = append(b, ' ')
			}
			if f == "metadata.json" {
				b = []byte(strings.Replace(string(b), `"version": "`+from+`"`, `"version": "`+to+`"`, 1))
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, to, f), b, 0o644))
		}
	}
	copyDir(good, good, false)
	const bad = "v20991231_000000"
	copyDir(good, bad, true)
	link := func(v string) {
		tmp := filepath.Join(dir, "latest.tmp")
		require.NoError(t, os.Symlink(v, tmp))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, "latest")))
	}
	link(bad)

	httpAddr := freePort(t)
	cmd := exec.Command(fraudscore(t), "worker")
	cmd.Env = append(os.Environ(), "FRAUDSCORE_EMBEDDED=true", "FRAUDSCORE_EMBEDDED_STORE_DIR="+t.TempDir(),
		"FRAUDSCORE_EMBEDDED_LISTEN="+freePort(t), "FRAUDSCORE_EMBEDDED_MONITOR="+freePort(t),
		"FRAUDSCORE_HTTP_ADDR="+httpAddr, "FRAUDSCORE_MODEL_DIR="+dir, "FRAUDSCORE_PULL_EXPIRY=1s")
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()

	readyz := func() (int, string) {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	require.Eventually(t, func() bool { c, body := readyz(); return c == 503 && strings.Contains(body, "sha256") },
		20*time.Second, 50*time.Millisecond, "not ready with the reason while the model is refused")

	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-exited:
		t.Fatalf("SIGHUP ended the worker: %v", err)
	default:
	}
	code, _ := readyz()
	assert.Equal(t, 503, code)

	link(good)
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { c, _ := readyz(); return c == 200 }, 20*time.Second, 50*time.Millisecond,
		"SIGHUP after the link moved to a good version makes the worker ready")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		assert.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
