package main

import (
	"io"
	"net/http"
	"os"
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
	good := testenv.BundledVersion(t)
	dir := t.TempDir()
	testenv.CopyBundled(t, dir, good)
	const bad = "v20991231_000000"
	vdir := testenv.CopyBundled(t, dir, bad)
	f, err := os.OpenFile(filepath.Join(vdir, "model.json"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(" ") // the sha256 in the metadata no longer matches
	require.NoError(t, err)
	require.NoError(t, f.Close())
	link := func(v string) {
		tmp := filepath.Join(dir, "latest.tmp")
		require.NoError(t, os.Symlink(v, tmp))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, "latest")))
	}
	link(bad)

	w, httpAddr := startWorker(t, "FRAUDSCORE_MODEL_DIR="+dir)

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

	w.Signal(t, syscall.SIGHUP)
	time.Sleep(500 * time.Millisecond)
	select {
	case <-w.Done():
		t.Fatalf("SIGHUP ended the worker: exit status %d", w.ExitCode())
	default:
	}
	code, _ := readyz()
	assert.Equal(t, 503, code)

	link(good)
	w.Signal(t, syscall.SIGHUP)
	require.Eventually(t, func() bool { c, _ := readyz(); return c == 200 }, 20*time.Second, 50*time.Millisecond,
		"SIGHUP after the link moved to a good version makes the worker ready")

	assert.NoError(t, w.Stop(30*time.Second), "clean exit on SIGTERM")
}
