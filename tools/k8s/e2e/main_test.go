package e2e

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/fraudscore/fraudscore/tools/k8s/controlplane"
	"github.com/fraudscore/fraudscore/tools/k8s/crds"
	"github.com/fraudscore/fraudscore/tools/k8s/manifests"
	"github.com/fraudscore/fraudscore/tools/k8s/pki"
)

// Binaries and outputs, given by `make k8s-e2e` (mk/k8s.mk).
const (
	envOperator   = "K8S_E2E_KEDA_OPERATOR"
	envAdapter    = "K8S_E2E_KEDA_ADAPTER"
	envKCM        = "K8S_E2E_KUBE_CONTROLLER_MANAGER"
	envNATSServer = "K8S_E2E_NATS_SERVER"
	envBacklog    = "K8S_E2E_BACKLOG"
	// envResult names the JSON file the scenario writes its observations to.
	envResult = "K8S_E2E_RESULT"
	// envInside marks the re-executed test process inside its network
	// namespace; envCRDs and envKEDADir carry what the outer process
	// resolved from the module cache (the namespace has no network).
	envInside  = "K8S_E2E_INSIDE_NETNS"
	envCRDs    = "K8S_E2E_CRD_FILES"
	envKEDADir = "K8S_E2E_KEDA_DIR"
)

// The private network namespace: its own loopback interface, which also
// carries a private address for the Service endpoints the aggregation layer
// needs (the API server refuses endpoint addresses in 127.0.0.0/8). The
// kernel here offers no dummy or veth interfaces ("ip link add ... type
// dummy": Unknown device type), and none is needed: the namespace has no
// other interface and no route, so nothing leaves it, and it disappears with
// the test process.
const (
	// endpointIP is where KEDA's metrics adapter listens and what its
	// EndpointSlice names.
	endpointIP = "10.255.0.1"
	// natsMonitor is the nats-server monitoring address that
	// testdata/e2e points the ScaledObject's trigger at.
	natsMonitor = "127.0.0.1:8222"
	natsClient  = "127.0.0.1:4222"
	// Fixed ports are safe: nothing else listens in the namespace.
	adapterPort     = "6443"
	operatorGRPC    = "127.0.0.1:9666"
	operatorMetrics = "127.0.0.1:8080"
	operatorProbe   = "127.0.0.1:8081"
	adapterMetrics  = "8082"
	// hpaSyncPeriod is kube-controller-manager's HPA resync (default 15 s):
	// shorter only to observe sooner; the behavior's windows are the
	// ScaledObject's.
	hpaSyncPeriod = "3s"
	// natsUser owns the FRAUD account's connection in the test server.
	natsUser = "fraudscore-k8s-e2e"
)

// env is what TestMain sets up once: the running chain and its clients.
type env struct {
	skip    string
	root    string
	dir     string
	cp      *controlplane.ControlPlane
	client  *manifests.Client
	core    kubernetes.Interface
	dyn     dynamic.Interface
	backlog string
	natsPW  string
	result  string
	// rendered is testdata/e2e rendered; scaledObject its ScaledObject.
	rendered     []*unstructured.Unstructured
	scaledObject *unstructured.Unstructured
	procs        []*proc
}

var shared env

func TestMain(m *testing.M) {
	for _, v := range []string{envOperator, envAdapter, envKCM, envNATSServer, envBacklog} {
		if os.Getenv(v) == "" {
			shared.skip = "needs " + v + " and the other binaries that `make k8s-e2e` builds"
			os.Exit(m.Run())
		}
	}
	if os.Getenv(envInside) == "" {
		code, err := reexecInNetns()
		if err != nil {
			fmt.Fprintln(os.Stderr, "k8s-e2e:", err)
			os.Exit(1)
		}
		os.Exit(code)
	}
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-e2e:", err)
		code = 1
	}
	if code != 0 {
		shared.dumpLogs()
	}
	shared.stop()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// reexecInNetns resolves the CRDs and KEDA's manifests from the module
// cache (fetching them through the module proxy if needed), then runs this
// test binary again in a new network namespace and returns its exit code.
func reexecInNetns() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		return 0, err
	}
	var files []string
	for _, f := range append(crds.KEDA(), crds.Monitoring()...) {
		p, err := manifests.ModuleFile(ctx, goBin, f.Module, f.Version, f.Sum, f.Path)
		if err != nil {
			return 0, err
		}
		files = append(files, p)
	}
	kedaDir, err := manifests.ModuleFile(ctx, goBin, crds.KEDAModule, crds.KEDAVersion, crds.KEDASum, ".")
	if err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInside+"=1",
		envCRDs+"="+strings.Join(files, string(os.PathListSeparator)), envKEDADir+"="+kedaDir)
	// CLONE_NEWNET: the child gets a network namespace of its own, with
	// only a loopback interface (down) until setupNetns.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("re-run in a new network namespace (needs CAP_SYS_ADMIN, e.g. root): %w", err)
	}
	return 0, nil
}

// setupNetns brings up loopback with endpointIP added, then checks that the
// namespace reaches nothing but itself: loopback is its only interface and
// its main routing table is empty.
func setupNetns(ctx context.Context) error {
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", endpointIP + "/32", "dev", "lo"},
	} {
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return err
	}
	var names []string
	for _, i := range ifaces {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"lo"}) {
		return fmt.Errorf("not an isolated network namespace: interfaces %v", names)
	}
	out, err := exec.CommandContext(ctx, "ip", "route", "show", "table", "main").CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip route: %w: %s", err, out)
	}
	if strings.TrimSpace(string(out)) != "" {
		return fmt.Errorf("the namespace has routes out: %s", out)
	}
	fmt.Printf("k8s-e2e: private network namespace: interfaces %v (127.0.0.1, %s), no route out\n", names, endpointIP)
	return nil
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := setupNetns(ctx); err != nil {
		return 0, err
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		return 0, err
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return 0, fmt.Errorf("kubectl renders the overlay (Debian package kubectl): %w", err)
	}
	dir, err := os.MkdirTemp("", "k8s-e2e-")
	if err != nil {
		return 0, err
	}
	shared.dir, shared.root, shared.backlog, shared.result = dir, root, os.Getenv(envBacklog), os.Getenv(envResult)

	// Certificates: one CA signs the aggregation layer's front-proxy client
	// certificate and KEDA's serving and client certificate (the adapter's
	// HTTPS, the operator's gRPC metrics service, mutual TLS between them).
	ca, err := pki.NewCA(dir, "k8s-e2e-ca")
	if err != nil {
		return 0, err
	}
	front := pki.Leaf{CommonName: "front-proxy-client", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if err := ca.Issue(front, filepath.Join(dir, "front-proxy.crt"), filepath.Join(dir, "front-proxy.key")); err != nil {
		return 0, err
	}
	kedaCerts := filepath.Join(dir, "keda-certs")
	if err := os.Mkdir(kedaCerts, 0o700); err != nil {
		return 0, err
	}
	keda := pki.Leaf{
		CommonName: "keda",
		DNSNames: []string{"keda-metrics-apiserver.keda.svc", "keda-metrics-apiserver.keda.svc.cluster.local",
			"keda-operator.keda.svc.cluster.local", "localhost"},
		IPs:    []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(endpointIP)},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if err := ca.Issue(keda, filepath.Join(kedaCerts, "tls.crt"), filepath.Join(kedaCerts, "tls.key")); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(kedaCerts, "ca.crt"), ca.CertPEM, 0o644); err != nil {
		return 0, err
	}

	start := time.Now()
	cpDir := filepath.Join(dir, "controlplane")
	if err := os.Mkdir(cpDir, 0o700); err != nil {
		return 0, err
	}
	cp, err := controlplane.StartWith(ctx, cpDir, controlplane.Options{ExtraArgs: []string{
		// The aggregation layer: proxy to the APIService's endpoints (no
		// kube-proxy runs to route a Service's cluster IP) and identify
		// the user to the adapter with the front-proxy certificate.
		"--enable-aggregator-routing=true",
		"--requestheader-client-ca-file=" + ca.CertFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + filepath.Join(dir, "front-proxy.crt"),
		"--proxy-client-key-file=" + filepath.Join(dir, "front-proxy.key"),
	}})
	if err != nil {
		return 0, err
	}
	shared.cp = cp
	fmt.Printf("k8s-e2e: etcd and kube-apiserver ready at %s in %s\n", cp.Config.Host, time.Since(start).Round(time.Millisecond))
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := cp.WriteKubeconfig(kubeconfig); err != nil {
		return 0, err
	}
	client, err := manifests.NewClient(cp.Config)
	if err != nil {
		return 0, err
	}
	shared.client = client
	if shared.core, err = kubernetes.NewForConfig(cp.Config); err != nil {
		return 0, err
	}
	if shared.dyn, err = dynamic.NewForConfig(cp.Config); err != nil {
		return 0, err
	}
	if err := client.InstallCRDs(ctx, filepath.SplitList(os.Getenv(envCRDs))...); err != nil {
		return 0, err
	}

	// nats-server with the FRAUD account the ScaledObject names, and the
	// worker's topology on it.
	objs, err := manifests.Render(ctx, kubectl, filepath.Join(root, "tools", "k8s", "testdata", "e2e"))
	if err != nil {
		return 0, err
	}
	shared.rendered = objs
	for _, o := range objs {
		if o.GetKind() == "ScaledObject" {
			shared.scaledObject = o
		}
	}
	if shared.scaledObject == nil {
		return 0, errors.New("testdata/e2e renders no ScaledObject")
	}
	trig, err := natsTrigger(shared.scaledObject)
	if err != nil {
		return 0, err
	}
	if trig.Endpoint != natsMonitor {
		return 0, fmt.Errorf("testdata/e2e points the trigger at %s, the test's nats-server monitors %s", trig.Endpoint, natsMonitor)
	}
	if err := shared.startNATS(ctx, trig.Account); err != nil {
		return 0, err
	}
	top, err := shared.topology(ctx)
	if err != nil {
		return 0, err
	}
	if top.Stream != trig.Stream || top.Consumer != trig.Consumer {
		return 0, fmt.Errorf("the worker's topology is %s/%s, the ScaledObject watches %s/%s", top.Stream, top.Consumer, trig.Stream, trig.Consumer)
	}
	fmt.Printf("k8s-e2e: nats-server on %s (monitoring %s), account %s, stream %s, consumer %s (worker.EnsureTopology)\n",
		natsClient, natsMonitor, trig.Account, top.Stream, top.Consumer)

	// KEDA: its namespace, the metrics adapter's Service, EndpointSlice and
	// APIService (KEDA's own config/metrics-server manifests, with our CA),
	// then the operator and the adapter.
	if err := client.EnsureNamespace(ctx, "keda"); err != nil {
		return 0, err
	}
	if err := applyKEDAMetricsAPI(ctx, client, os.Getenv(envKEDADir), ca.CertPEM); err != nil {
		return 0, err
	}
	kedaEnv := []string{"KUBECONFIG=" + kubeconfig, "WATCH_NAMESPACE=", "POD_NAMESPACE=keda", "KEDA_CLUSTER_OBJECT_NAMESPACE=keda"}
	caDir := filepath.Join(dir, "keda-ca")
	if err := os.Mkdir(caDir, 0o700); err != nil {
		return 0, err
	}
	if err := shared.start(ctx, "keda-operator", os.Getenv(envOperator), kedaEnv,
		"--leader-elect=false",
		"--metrics-bind-address="+operatorMetrics,
		"--health-probe-bind-address="+operatorProbe,
		"--metrics-service-bind-address="+operatorGRPC,
		"--cert-dir="+kedaCerts,
		"--ca-dir="+caDir,
		"--enable-cert-rotation=false",
		"--zap-log-level=info",
	); err != nil {
		return 0, err
	}
	if err := waitHTTP(ctx, "http://"+operatorProbe+"/readyz"); err != nil {
		return 0, fmt.Errorf("keda-operator: %w", err)
	}
	if err := shared.start(ctx, "keda-adapter", os.Getenv(envAdapter), kedaEnv,
		"--secure-port="+adapterPort,
		"--bind-address="+endpointIP,
		"--cert-dir="+kedaCerts,
		"--tls-cert-file="+filepath.Join(kedaCerts, "tls.crt"),
		"--tls-private-key-file="+filepath.Join(kedaCerts, "tls.key"),
		"--client-ca-file="+filepath.Join(kedaCerts, "ca.crt"),
		"--lister-kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+kubeconfig,
		"--authorization-kubeconfig="+kubeconfig,
		"--metrics-service-address="+operatorGRPC,
		"--port="+adapterMetrics,
	); err != nil {
		return 0, err
	}
	if err := waitAPIServiceAvailable(ctx, shared.dyn, "v1beta1.external.metrics.k8s.io"); err != nil {
		return 0, err
	}
	fmt.Printf("k8s-e2e: KEDA operator and metrics adapter running; APIService v1beta1.external.metrics.k8s.io Available via %s:%s\n", endpointIP, adapterPort)

	if err := shared.start(ctx, "kube-controller-manager", os.Getenv(envKCM), nil,
		"--kubeconfig="+kubeconfig,
		"--controllers=horizontal-pod-autoscaler-controller,deployment-controller,replicaset-controller",
		"--leader-elect=false",
		"--secure-port=0",
		"--horizontal-pod-autoscaler-sync-period="+hpaSyncPeriod,
		"--v=2",
	); err != nil {
		return 0, err
	}
	fmt.Printf("k8s-e2e: kube-controller-manager running (HPA, deployment, replicaset controllers); set up in %s\n", time.Since(start).Round(time.Millisecond))
	return m.Run(), nil
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, res.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", url, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// apiServices is the aggregation layer's APIService resource.
var apiServices = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// waitAPIServiceAvailable waits for the APIService's Available condition,
// which the API server sets once it reached the service's endpoint.
func waitAPIServiceAvailable(ctx context.Context, dyn dynamic.Interface, name string) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := "not found"
	for {
		svc, err := dyn.Resource(apiServices).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if c, ok := condition(svc, "Available"); ok {
				last = c.Status + " " + c.Reason + ": " + c.Message
				if c.Status == "True" {
					return nil
				}
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("APIService %s not Available: %w (last: %s)", name, ctx.Err(), last)
		case <-tick.C:
		}
	}
}
