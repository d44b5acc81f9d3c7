package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/synthetic"
)

// fraudscore returns the binary under test, built once per test process.
func fraudscore(t testing.TB) string {
	return testenv.Binary(t, "./cmd/fraudscore")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// result is how a command run by runBin ended.
type result struct {
	code           int
	stdout, stderr string
}

// runBin runs the binary to completion with args, stdin, and env on top of
// testenv.Environ (no FRAUDSCORE_* variable of the developer's shell), under
// a generous deadline: a command that started a worker instead of exiting
// would hit it and fail. A crash (a goroutine dump on stderr) fails t.
func runBin(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fraudscore(t), args...)
	cmd.Env = testenv.Environ(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "fraudscore %v did not exit", args)
	r := result{stdout: so.String(), stderr: se.String()}
	if err != nil {
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "run %v: %v", args, err)
		r.code = ee.ExitCode()
		require.NotContains(t, r.stderr, "goroutine ", "the binary crashed")
	}
	return r
}

// startWorker starts `fraudscore worker` on an embedded NATS server with its
// store in a temporary directory, on free ports, with env added (later
// entries win), and returns the process and its side port's address.
func startWorker(t *testing.T, env ...string) (p *testenv.Process, httpAddr string) {
	t.Helper()
	httpAddr = testenv.FreeAddr(t)
	base := []string{
		"FRAUDSCORE_EMBEDDED=true",
		"FRAUDSCORE_EMBEDDED_STORE_DIR=" + t.TempDir(),
		"FRAUDSCORE_EMBEDDED_LISTEN=" + testenv.FreeAddr(t),
		"FRAUDSCORE_EMBEDDED_MONITOR=" + testenv.FreeAddr(t),
		"FRAUDSCORE_HTTP_ADDR=" + httpAddr,
		"FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t),
		"FRAUDSCORE_PULL_EXPIRY=1s",
	}
	return testenv.StartProcess(t, fraudscore(t), []string{"worker"}, append(base, env...)), httpAddr
}

// readyWorker is startWorker on a NATS address the test knows, waited on
// until /readyz answers; it returns the process, its side port and the
// embedded server's URL.
func readyWorker(t *testing.T, env ...string) (p *testenv.Process, httpAddr, natsURL string) {
	t.Helper()
	natsAddr := testenv.FreeAddr(t)
	p, httpAddr = startWorker(t, append([]string{"FRAUDSCORE_EMBEDDED_LISTEN=" + natsAddr}, env...)...)
	p.WaitHTTP(t, "http://"+httpAddr+"/readyz", 30*time.Second)
	return p, httpAddr, "nats://" + natsAddr
}

// synthEvents returns the first n events of the synthetic generator with cfg.
func synthEvents(cfg synthetic.Config, n int) []contracts.TransactionEvent {
	g := synthetic.New(cfg)
	evs := make([]contracts.TransactionEvent, n)
	for i := range evs {
		evs[i], _ = g.Next()
	}
	return evs
}
