package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fraudscore/fraudscore/tools/k8s/manifests"
)

// proc is one process of the chain, its output in dir/<name>.log.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs bin with args and env (added to a minimal environment),
// logging to a file; it fails if the process exits within the first moment
// (bad flags) and otherwise leaves it running until stop.
func (e *env) start(ctx context.Context, name, bin string, extraEnv []string, args ...string) error {
	logPath := filepath.Join(e.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	e.procs = append(e.procs, p)
	select {
	case <-p.done:
		return fmt.Errorf("%s exited at start: %s\n%s", name, cmd.ProcessState, tail(logPath, 30))
	case <-time.After(500 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exited reports the processes of the chain that are no longer running.
func (e *env) exited() []string {
	var out []string
	for _, p := range e.procs {
		select {
		case <-p.done:
			out = append(out, p.name+" ("+p.cmd.ProcessState.String()+")")
		default:
		}
	}
	return out
}

// stop ends every process, newest first: SIGTERM, then SIGKILL after 10 s.
func (e *env) stop() {
	for i := len(e.procs) - 1; i >= 0; i-- {
		p := e.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	e.procs = nil
	if e.cp != nil {
		e.cp.Stop()
		e.cp = nil
	}
}

// dumpLogs prints the end of every process's log (after a failure).
func (e *env) dumpLogs() {
	for _, p := range e.procs {
		fmt.Fprintf(os.Stderr, "--- last lines of %s ---\n%s\n", p.name, tail(p.log, 40))
	}
	if e.cp != nil {
		fmt.Fprintf(os.Stderr, "--- last lines of kube-apiserver ---\n%s\n", tail(filepath.Join(e.cp.Dir, "apiserver.log"), 40))
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// trigger is the ScaledObject's nats-jetstream trigger and bounds.
type trigger struct {
	Endpoint, Account, Stream, Consumer string
	LagThreshold                        int64
	Min, Max                            int64
	// Index is the trigger's position (KEDA names its metric s<index>-...).
	Index int
}

func natsTrigger(so *unstructured.Unstructured) (trigger, error) {
	trigs, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	for i, tr := range trigs {
		m, _ := tr.(map[string]any)
		if m["type"] != "nats-jetstream" {
			continue
		}
		md, _ := m["metadata"].(map[string]any)
		str := func(k string) string { s, _ := md[k].(string); return s }
		thr, err := strconv.ParseInt(str("lagThreshold"), 10, 64)
		if err != nil {
			return trigger{}, fmt.Errorf("lagThreshold %q: %w", str("lagThreshold"), err)
		}
		lo, err := integer(so, "spec", "minReplicaCount")
		if err != nil {
			return trigger{}, err
		}
		hi, err := integer(so, "spec", "maxReplicaCount")
		if err != nil {
			return trigger{}, err
		}
		return trigger{Endpoint: str("natsServerMonitoringEndpoint"), Account: str("account"), Stream: str("stream"),
			Consumer: str("consumer"), LagThreshold: thr, Min: lo, Max: hi, Index: i}, nil
	}
	return trigger{}, errors.New("the ScaledObject has no nats-jetstream trigger")
}

// integer reads a whole number at path: decoded YAML holds numbers as
// float64 (JSON) or int64.
func integer(o *unstructured.Unstructured, path ...string) (int64, error) {
	v, found, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	if err != nil || !found {
		return 0, fmt.Errorf("%s: %v not found: %v", o.GetKind(), path, err)
	}
	switch n := v.(type) {
	case int64:
		return n, nil
	case float64:
		if n == float64(int64(n)) {
			return int64(n), nil
		}
	}
	return 0, fmt.Errorf("%s: %v = %v is not a whole number", o.GetKind(), path, v)
}

// startNATS writes a nats-server configuration with JetStream, the
// monitoring port and account with one user, and starts the server.
func (e *env) startNATS(ctx context.Context, account string) error {
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return err
	}
	e.natsPW = hex.EncodeToString(pw)
	if err := os.WriteFile(filepath.Join(e.dir, "nats.pw"), []byte(e.natsPW), 0o600); err != nil {
		return err
	}
	conf := fmt.Sprintf(`server_name: k8s-e2e
listen: %q
http: %q
jetstream { store_dir: %q }
accounts {
  %s: { jetstream: enabled, users: [ { user: %q, password: %q } ] }
}
`, natsClient, natsMonitor, filepath.Join(e.dir, "jetstream"), account, natsUser, e.natsPW)
	path := filepath.Join(e.dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return err
	}
	if err := e.start(ctx, "nats-server", os.Getenv(envNATSServer), nil, "-c", path); err != nil {
		return err
	}
	return waitHTTP(ctx, "http://"+natsMonitor+"/healthz?js-enabled-only=true")
}

// topologyResult is `backlog topology`'s output.
type topologyResult struct {
	Stream, Consumer, Subject string
}

// lagResult is `backlog lag`'s output.
type lagResult struct {
	NumPending    uint64 `json:"num_pending"`
	NumAckPending int    `json:"num_ack_pending"`
	Lag           uint64 `json:"lag"`
	StreamMsgs    uint64 `json:"stream_msgs"`
}

// backlogCmd runs the backlog helper against the test's nats-server with
// the worker's configuration for a single server, and decodes its output.
func (e *env) backlogCmd(ctx context.Context, out any, args ...string) error {
	full := append(args[:1:1], "-url", "nats://"+natsClient, "-user", natsUser, "-password-file", filepath.Join(e.dir, "nats.pw"))
	full = append(full, args[1:]...)
	cmd := exec.CommandContext(ctx, e.backlog, full...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "FRAUDSCORE_STREAM_REPLICAS=1"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("backlog %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("backlog %s output %q: %w", args[0], stdout.String(), err)
	}
	return nil
}

func (e *env) topology(ctx context.Context) (topologyResult, error) {
	var top topologyResult
	return top, e.backlogCmd(ctx, &top, "topology")
}

func (e *env) lag(ctx context.Context) (lagResult, error) {
	var l lagResult
	return l, e.backlogCmd(ctx, &l, "lag")
}

// applyKEDAMetricsAPI applies KEDA's own Service and APIService for its
// metrics adapter (config/metrics-server in the KEDA module), the APIService
// with our CA as caBundle (in a cluster KEDA's cert rotation patches it in),
// and an EndpointSlice naming the adapter's address in the namespace (no
// pod, so no endpointslice controller would find one).
func applyKEDAMetricsAPI(ctx context.Context, c *manifests.Client, kedaDir string, caPEM []byte) error {
	var objs []*unstructured.Unstructured
	for _, f := range []string{"service.yaml", "api_service.yaml"} {
		b, err := os.ReadFile(filepath.Join(kedaDir, "config", "metrics-server", f))
		if err != nil {
			return err
		}
		o, err := manifests.Decode(b)
		if err != nil {
			return err
		}
		objs = append(objs, o...)
	}
	for _, o := range objs {
		if o.GetKind() == "APIService" {
			if err := unstructured.SetNestedField(o.Object, base64.StdEncoding.EncodeToString(caPEM), "spec", "caBundle"); err != nil {
				return err
			}
		}
	}
	port, _ := strconv.ParseInt(adapterPort, 10, 32)
	slice := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "discovery.k8s.io/v1",
		"kind":       "EndpointSlice",
		"metadata": map[string]any{
			"name":      "keda-metrics-apiserver-k8s-e2e",
			"namespace": "keda",
			"labels": map[string]any{
				"kubernetes.io/service-name":             "keda-metrics-apiserver",
				"endpointslice.kubernetes.io/managed-by": "fraudscore-k8s-e2e",
			},
		},
		"addressType": "IPv4",
		"endpoints":   []any{map[string]any{"addresses": []any{endpointIP}, "conditions": map[string]any{"ready": true}}},
		"ports":       []any{map[string]any{"name": "https", "port": port, "protocol": "TCP"}},
	}}
	objs = append(objs, slice)
	_, err := c.Apply(ctx, objs)
	return err
}

// condition returns the status condition of type typ of an object.
func condition(o *unstructured.Unstructured, typ string) (struct{ Status, Reason, Message string }, bool) {
	var out struct{ Status, Reason, Message string }
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			out.Status, _ = m["status"].(string)
			out.Reason, _ = m["reason"].(string)
			out.Message, _ = m["message"].(string)
			return out, true
		}
	}
	return out, false
}
