package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Process is a program under test started by StartProcess: its combined
// output is kept, and it is stopped with SIGTERM when the test ends.
type Process struct {
	cmd      *exec.Cmd
	out      Buffer
	done     chan struct{}
	exitCode int
}

// Environ returns the test's environment minus every FRAUDSCORE_* variable
// (so a developer's shell cannot change what the test runs), with env
// appended: the environment for a program under test, such as an
// exec.Cmd's Env.
func Environ(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FRAUDSCORE_") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// StartProcess runs bin with args in the environment Environ(env...). When
// the test ends a process still running is stopped, and the output is
// logged if the test failed.
func StartProcess(t testing.TB, bin string, args, env []string) *Process {
	t.Helper()
	p := &Process{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = Environ(env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.exitCode = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done: // exited during the test, which has seen its status
		default:
			if err := p.Stop(20 * time.Second); err != nil {
				t.Logf("testenv: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", bin, p.Output())
		}
	})
	return p
}

// Output returns what the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Records returns the JSON log records in the output so far (see
// Buffer.Records).
func (p *Process) Records() []map[string]any { return p.out.Records() }

// Signal sends sig to the process (by its id); it fails t if the signal
// cannot be delivered, for example because the process has exited.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("testenv: signal %v to %s: %v", sig, p.cmd.Path, err)
	}
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the exit status once Done is closed (-1 after a signal).
func (p *Process) ExitCode() int {
	<-p.done
	return p.exitCode
}

// WaitExit waits up to d for the process to exit on its own and returns its
// exit status; it fails t if the process is still running.
func (p *Process) WaitExit(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.exitCode
	case <-time.After(d):
		t.Fatalf("testenv: process still running after %s:\n%s", d, p.Output())
		return 0
	}
}

// WaitHTTP polls url until it answers 200, for up to d; it fails t if the
// process exits first or d passes.
func (p *Process) WaitHTTP(t testing.TB, url string, d time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("testenv: process exited with %d before %s answered 200:\n%s", p.exitCode, url, p.Output())
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("testenv: %s did not answer 200 within %s:\n%s", url, d, p.Output())
}

// Stop sends SIGTERM to a process still running and waits up to grace for
// it to exit, then kills it. It reports a kill, or a non-zero exit status
// (also of a process that had exited before), as an error.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
			return errors.New(p.cmd.Path + " did not stop on SIGTERM")
		}
	}
	if p.exitCode != 0 {
		return fmt.Errorf("%s exited with %d", p.cmd.Path, p.exitCode)
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreePorts returns n distinct free 127.0.0.1 ports, held open together
// until all are chosen (FreePort called n times can return one port twice).
// As with FreePort, another process may take one before the caller binds
// it: bind at once, and prefer port -1 where the peer learns the address
// after the bind.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// FreeAddr returns FreePort as a 127.0.0.1 address (host:port).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}
