// Package bench runs fraudscore's end-to-end benchmark: a standalone NATS
// server and the worker as separate processes on this machine, driven by the
// load tester, with the transport's own limits (nats bench) and the worker's
// pass-through mode measured in the same run. Every process it starts
// listens on 127.0.0.1 and is stopped by its process id.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProc starts bin with args and extra environment; its output goes to
// log (nil discards it).
func StartProc(name, bin string, args, env []string, log io.Writer) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if log == nil {
		log = io.Discard
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// State is the process's wait status once it has ended (nil while it runs):
// fault tests read from it which signal, if any, ended the process.
func (p *Proc) State() *os.ProcessState {
	if !p.Exited() {
		return nil
	}
	return p.cmd.ProcessState
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to timeout, then kills the process.
func (p *Proc) Stop(timeout time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("bench: %s did not stop within %s; killed", p.Name, timeout)
	}
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Server is a standalone nats-server process (cmd/natsserver).
type Server struct {
	*Proc
	URL string
}

// StartServer starts cmd/natsserver with JetStream and a file store in
// storeDir, on a free loopback port, and waits until it accepts
// connections; profPort, when not 0, is where it serves its profiles.
func StartServer(ctx context.Context, bin, storeDir string, profPort int, log io.Writer) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{"-port", strconv.Itoa(port), "-store", storeDir}
	if profPort != 0 {
		args = append(args, "-prof", strconv.Itoa(profPort))
	}
	p, err := StartProc("natsserver", bin, args, nil, log)
	if err != nil {
		return nil, err
	}
	s := &Server{Proc: p, URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	if err := waitFor(ctx, 15*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("bench: natsserver not listening: %w", err)
	}
	return s, nil
}

// Worker is a fraudscore worker process.
type Worker struct {
	*Proc
	// Side is the side port's base URL (http://127.0.0.1:port).
	Side string
}

// StartWorker starts `fraudscore worker` against url with the given model
// directory and extra FRAUDSCORE_* (or GOGC...) environment, and waits until
// /readyz answers 200.
func StartWorker(ctx context.Context, bin, url, modelDir string, env []string, log io.Writer) (*Worker, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	base := []string{
		"FRAUDSCORE_NATS_URL=" + url,
		"FRAUDSCORE_MODEL_DIR=" + modelDir,
		"FRAUDSCORE_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"FRAUDSCORE_LOG_LEVEL=warn",
		"FRAUDSCORE_RULES=off", // bin/bench runs from the repository root, whose policies/ would switch rules on
	}
	p, err := StartProc("worker", bin, []string{"worker"}, append(base, env...), log)
	if err != nil {
		return nil, err
	}
	w := &Worker{Proc: p, Side: fmt.Sprintf("http://127.0.0.1:%d", port)}
	client := &http.Client{Timeout: time.Second}
	if err := waitFor(ctx, 30*time.Second, func() bool {
		if p.Exited() {
			return false
		}
		resp, err := client.Get(w.Side + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("bench: worker not ready (exited: %v): %w", p.Exited(), err)
	}
	return w, nil
}

// Metric reads one unlabelled counter or gauge from the worker's /metrics,
// such as fraudscore_messages_acked_total.
func (w *Worker) Metric(name string) (float64, error) {
	return metric(&http.Client{Timeout: 5 * time.Second}, w.Side, name)
}

func waitFor(ctx context.Context, limit time.Duration, ok func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// RSSSampler samples process_resident_memory_bytes from workers' /metrics.
type RSSSampler struct {
	mu   sync.Mutex
	max  float64
	last float64
	stop chan struct{}
	done chan struct{}
}

// SampleRSS starts sampling the given side ports every interval until Stop.
func SampleRSS(sides []string, every time.Duration) *RSSSampler {
	s := &RSSSampler{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: time.Second}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for _, side := range sides {
				if v, err := metric(client, side, "process_resident_memory_bytes"); err == nil {
					s.mu.Lock()
					s.max = max(s.max, v)
					s.last = v
					s.mu.Unlock()
				}
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the largest and the last sample in MiB.
func (s *RSSSampler) Stop() (maxMiB, lastMiB float64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max / (1 << 20), s.last / (1 << 20)
}

// metric reads one unlabelled gauge or counter from a Prometheus text page.
func metric(client *http.Client, side, name string) (float64, error) {
	resp, err := client.Get(side + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("bench: metric " + name + " not found")
}

// FeatureSeries reads from a worker's /metrics every series of the
// optional features a scenario switches on (FeatureSeriesPrefixes), by
// series as rendered (`fraudscore_velocity_degraded_total{reason="timeout"}`),
// histogram buckets left out: what a benchmark's throughput depends on,
// such as transactions scored without velocity because a KV round trip
// timed out.
func FeatureSeries(side string) (map[string]float64, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(side + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") || strings.Contains(line[:i], "_bucket{") {
			continue
		}
		for _, p := range FeatureSeriesPrefixes {
			if strings.HasPrefix(line, p) {
				if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
					out[line[:i]] = v
				}
			}
		}
	}
	return out, sc.Err()
}

// FeatureSeriesPrefixes are the metric name prefixes FeatureSeries keeps.
var FeatureSeriesPrefixes = []string{"fraudscore_velocity_", "fraudscore_archive_"}

// CPUSeconds returns the user+system CPU time of a process from /proc (0 if
// unknown); pid 0 means this process.
func CPUSeconds(pid int) float64 {
	path := "/proc/self/stat"
	if pid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}
