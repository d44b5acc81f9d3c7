package testenv

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// HoldFlock takes an exclusive flock(2) on path (created if missing) as
// another process would, and returns the function that releases it (also
// called at cleanup). flock locks conflict between open files even in one
// process, so code under test that locks path waits for the release.
func HoldFlock(t testing.TB, path string) (release func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
	t.Cleanup(release)
	return release
}

// WaitFlockWaiter waits until some open file is blocked waiting for a flock
// on path, as /proc/locks shows (a "->" line on the file's inode): evidence
// that the code under test reached its lock and is held there. It fails t
// if none appears within a minute (a generous bound, not a measurement).
func WaitFlockWaiter(t testing.TB, path string) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	ino := ":" + strconv.FormatUint(st.Sys().(*syscall.Stat_t).Ino, 10)
	deadline := time.Now().Add(time.Minute)
	for {
		raw, err := os.ReadFile("/proc/locks")
		require.NoError(t, err, "flock waiters are read from /proc/locks (Linux)")
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Fields(line)
			// 1: -> FLOCK  ADVISORY  WRITE 28343 fe:00:9980526 0 EOF
			if len(f) >= 7 && f[1] == "->" && f[2] == "FLOCK" && strings.HasSuffix(f[6], ino) {
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "nothing waited for the flock on %s", path)
		time.Sleep(time.Millisecond)
	}
}
