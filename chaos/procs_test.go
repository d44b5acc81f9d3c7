package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/loadtest/bench"
)

// binaries are the system under test: cmd/natsserver and cmd/fraudscore,
// built once per test process by testenv.
type binaries struct {
	natsserver, fraudscore string
}

// bins builds (once) and returns the binaries; a failed build ends the test.
func bins(t testing.TB) binaries {
	t.Helper()
	return binaries{natsserver: testenv.Binary(t, "./cmd/natsserver"), fraudscore: testenv.Binary(t, "./cmd/fraudscore")}
}

// proc is a child process with its output in a log file.
type proc struct {
	*bench.Proc
	name    string
	logPath string
}

// signal sends sig to the process by its id (never by name).
func (p *proc) signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	return syscall.Kill(p.Pid(), sig)
}

// kill SIGKILLs the process if it still runs and waits for it to end (for
// cleanups; a fault uses killWith, which proves the signal ended it).
func (p *proc) kill() {
	_ = p.signal(syscall.SIGCONT)
	_ = p.signal(syscall.SIGKILL)
	p.waitExit(10 * time.Second)
}

// waitExit polls until the process has ended or limit passes.
func (p *proc) waitExit(limit time.Duration) bool {
	return waitUntil(limit, p.Exited)
}

// stop resumes a stopped process, sends SIGTERM and waits, then kills.
func (p *proc) stop(timeout time.Duration) error {
	_ = p.signal(syscall.SIGCONT)
	return p.Stop(timeout)
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	data, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grep returns the log lines of the process that contain s.
func (p *proc) grep(s string) []string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// startProc starts bin; its output is appended to dir/name.log. The process
// is killed (by pid) at the end of the test if still running.
func startProc(t testing.TB, dir, name, bin string, args, env []string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fmt.Fprintf(f, "=== start %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	bp, err := bench.StartProc(name, bin, args, env, f)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{Proc: bp, name: name, logPath: logPath}
	t.Cleanup(func() {
		if !p.Exited() {
			p.kill()
		}
	})
	return p
}

// waitUntil polls ok every 100ms until it returns true or limit passes.
func waitUntil(limit time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// natsNode is one nats-server process: a single node (cmd/natsserver) or a
// cluster member (cmd/natsserver with -cluster-port and -routes).
type natsNode struct {
	name        string
	bin         string
	args        []string
	dir         string
	port        int
	p           *proc
	t           testing.TB
	logDir      string
	clusterNode bool
}

func (n *natsNode) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

// start (re)starts the node with the same store and ports and waits until it
// accepts connections.
func (n *natsNode) start() {
	n.t.Helper()
	n.p = startProc(n.t, n.logDir, n.name, n.bin, n.args, nil)
	if !waitUntil(30*time.Second, func() bool { return !n.p.Exited() && listening(n.port) }) {
		n.t.Fatalf("%s not listening on %d:\n%s", n.name, n.port, n.p.tail(30))
	}
}

// startSingle starts cmd/natsserver with a file store in a temporary directory.
func startSingle(t testing.TB, logDir string) *natsNode {
	t.Helper()
	b := bins(t)
	n := &natsNode{name: "natsserver", bin: b.natsserver, dir: filepath.Join(t.TempDir(), "js"), port: testenv.FreePort(t), t: t, logDir: logDir}
	n.args = []string{"-port", strconv.Itoa(n.port), "-store", n.dir, "-name", "chaos-single"}
	n.start()
	return n
}

// startCluster starts three cmd/natsserver nodes with routes to each other.
func startCluster(t testing.TB, logDir string) []*natsNode {
	t.Helper()
	b := bins(t)
	var routes []string
	var nodes []*natsNode
	cports := make([]int, 3)
	for i := range 3 {
		cports[i] = testenv.FreePort(t)
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(cports[i]))
	}
	for i := range 3 {
		n := &natsNode{name: fmt.Sprintf("n%d", i+1), bin: b.natsserver, dir: filepath.Join(t.TempDir(), "js"),
			port: testenv.FreePort(t), t: t, logDir: logDir, clusterNode: true}
		n.args = []string{"-name", n.name, "-port", strconv.Itoa(n.port), "-store", n.dir,
			"-cluster", "chaos", "-cluster-port", strconv.Itoa(cports[i]), "-routes", strings.Join(routes, ","),
			"-max-store", strconv.Itoa(2 << 30), "-max-mem", strconv.Itoa(256 << 20)}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.start()
	}
	return nodes
}

func urls(nodes []*natsNode) string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.url())
	}
	return strings.Join(s, ",")
}

// workerProc is one `fraudscore worker` process.
type workerProc struct {
	id   string
	side string
	env  []string
	p    *proc
	t    testing.TB
	dir  string
}

// chaosEnv is the worker configuration of the suite: short AckWait and
// backoff so that faults resolve within seconds.
func chaosEnv() []string {
	return []string{
		"FRAUDSCORE_ACK_WAIT=2s",
		"FRAUDSCORE_BACKOFF=2s,2s",
		"FRAUDSCORE_MAX_DELIVER=5",
		"FRAUDSCORE_PULL_EXPIRY=1s",
		"FRAUDSCORE_STALL_TIMEOUT=10s",
		"FRAUDSCORE_DRAIN_TIMEOUT=10s",
		"FRAUDSCORE_BACKLOG_POLL=1s",
		"FRAUDSCORE_LOG_LEVEL=info",
	}
}

// newWorker prepares a worker process; start runs it.
func newWorker(t testing.TB, dir, id, natsURL, modelDir string, extra ...string) *workerProc {
	port := testenv.FreePort(t)
	w := &workerProc{id: id, side: "http://127.0.0.1:" + strconv.Itoa(port), t: t, dir: dir}
	w.env = append([]string{
		"FRAUDSCORE_NATS_URL=" + natsURL,
		"FRAUDSCORE_MODEL_DIR=" + modelDir,
		"FRAUDSCORE_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"FRAUDSCORE_WORKER_ID=" + id,
	}, append(chaosEnv(), extra...)...)
	return w
}

// start starts the process; with wantReady it waits for /readyz = 200.
func (w *workerProc) start(wantReady bool) {
	w.t.Helper()
	w.p = startProc(w.t, w.dir, w.id, bins(w.t).fraudscore, []string{"worker"}, w.env)
	if !wantReady {
		return
	}
	if !waitUntil(60*time.Second, func() bool { code, _ := w.probe("/readyz"); return code == http.StatusOK || w.p.Exited() }) || w.p.Exited() {
		w.t.Fatalf("worker %s not ready (exited %v):\n%s", w.id, w.p.Exited(), w.p.tail(40))
	}
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// probe GETs a side-port path and returns the status and body.
func (w *workerProc) probe(path string) (int, string) {
	resp, err := httpClient.Get(w.side + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, string(body)
}

// metric sums every sample of the named metric on the worker's /metrics
// (all label sets); ok is false when the page or the metric is missing.
func (w *workerProc) metric(name string) (float64, bool) { return w.metricWhere(name, "") }

// metricWhere sums the samples of the named metric whose label set contains
// label (for example `reason="dlq_error"`; "" for every sample).
func (w *workerProc) metricWhere(name, label string) (float64, bool) {
	code, body := w.probe("/metrics")
	if code != http.StatusOK {
		return 0, false
	}
	var sum float64
	found := false
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if !strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{") {
			continue
		}
		if label != "" && !strings.Contains(rest[:strings.LastIndexByte(rest, '}')+1], label) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// withTimeout is a context bounded by d, cancelled at the end of the test.
func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
