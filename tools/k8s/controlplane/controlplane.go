// Package controlplane runs a real Kubernetes control plane inside the
// calling process: etcd from go.etcd.io/etcd/server/v3/embed and
// kube-apiserver from k8s.io/kubernetes/cmd/kube-apiserver/app, both bound to
// 127.0.0.1 only, with a generated bearer token and self-signed serving
// certificates in a temporary directory. No kubelet, scheduler or container
// runtime: objects are stored and validated, no pod ever runs.
package controlplane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// ErrStart prefixes every error of this package.
var ErrStart = errors.New("controlplane")

// User is the name the generated token authenticates as (group system:masters).
const User = "fraudscore-k8s-verify"

// ControlPlane is a running etcd and kube-apiserver.
type ControlPlane struct {
	// Config reaches the API server as User over TLS, verifying the
	// server's self-signed certificate.
	Config *rest.Config
	// Dir holds the certificates, the token file, etcd's data and the logs
	// (apiserver.log, etcd.log).
	Dir string

	cancel  context.CancelFunc
	etcd    *embed.Etcd
	stopped chan error
	log     *os.File
}

// Options changes how StartWith runs kube-apiserver.
type Options struct {
	// ExtraArgs are kube-apiserver flags parsed after Start's own (a flag
	// given again replaces Start's value), for example the aggregation
	// layer's --requestheader-* and --proxy-client-* flags.
	ExtraArgs []string
}

// Start runs etcd and kube-apiserver with their state in dir (which must
// exist and be empty) and returns once the API server's /readyz answers ok,
// or when ctx ends or the server fails.
func Start(ctx context.Context, dir string) (*ControlPlane, error) {
	return StartWith(ctx, dir, Options{})
}

// StartWith is Start with kube-apiserver changed by opts.
func StartWith(ctx context.Context, dir string, opts Options) (*ControlPlane, error) {
	cp := &ControlPlane{Dir: dir, stopped: make(chan error, 1)}
	etcdURL, err := cp.startEtcd(ctx)
	if err != nil {
		return nil, err
	}
	if err := cp.startAPIServer(ctx, etcdURL, opts.ExtraArgs); err != nil {
		cp.Stop()
		return nil, err
	}
	return cp, nil
}

// Stop ends the API server, then etcd. It is safe to call more than once.
func (cp *ControlPlane) Stop() {
	if cp.cancel != nil {
		cp.cancel()
		select {
		case <-cp.stopped:
		case <-time.After(30 * time.Second):
		}
		cp.cancel = nil
	}
	if cp.etcd != nil {
		cp.etcd.Close()
		cp.etcd = nil
	}
	if cp.log != nil {
		cp.log.Close()
		cp.log = nil
	}
}

func (cp *ControlPlane) startEtcd(ctx context.Context) (string, error) {
	client, err := freePort()
	if err != nil {
		return "", err
	}
	peer, err := freePort()
	if err != nil {
		return "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "k8s-verify"
	cfg.Dir = filepath.Join(cp.Dir, "etcd")
	cu := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(client))}
	pu := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peer))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cfg.Name + "=" + pu.String()
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(cp.Dir, "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return "", fmt.Errorf("%w: start etcd: %w", ErrStart, err)
	}
	cp.etcd = e
	select {
	case <-e.Server.ReadyNotify():
		return cu.String(), nil
	case err := <-e.Err():
		return "", fmt.Errorf("%w: etcd: %w", ErrStart, err)
	case <-ctx.Done():
		return "", fmt.Errorf("%w: waiting for etcd: %w", ErrStart, ctx.Err())
	}
}

func (cp *ControlPlane) startAPIServer(ctx context.Context, etcdURL string, extra []string) error {
	token, err := randomHex(32)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(cp.Dir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+","+User+","+User+",\"system:masters\"\n"), 0o600); err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	saKey := filepath.Join(cp.Dir, "sa.key")
	if err := writeECKey(saKey); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	certDir := filepath.Join(cp.Dir, "certs")
	logFile, err := os.Create(filepath.Join(cp.Dir, "apiserver.log"))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	cp.log = logFile
	// klog writes to the log file only: by default it also copies errors
	// to stderr, which would bury the test output.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	for name, value := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL"} {
		if err := klogFlags.Set(name, value); err != nil {
			return fmt.Errorf("%w: klog flag %s: %w", ErrStart, name, err)
		}
	}
	klog.SetOutput(logFile)

	s := options.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range s.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	args := []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + certDir,
		"--etcd-servers=" + etcdURL,
		"--token-auth-file=" + tokenFile,
		"--anonymous-auth=false",
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + saKey,
		"--service-account-signing-key-file=" + saKey,
		// Only stored, never routed: no kube-proxy runs.
		"--service-cluster-ip-range=10.96.0.0/16",
		// The "kubernetes" Service would get 127.0.0.1 as its endpoint,
		// which the API server's own validation refuses.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	args = append(args, extra...)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: kube-apiserver flags: %w", ErrStart, err)
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("%w: kube-apiserver versions: %w", ErrStart, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	completed, err := s.Complete(runCtx)
	if err != nil {
		cancel()
		return fmt.Errorf("%w: kube-apiserver options: %w", ErrStart, err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		cancel()
		return fmt.Errorf("%w: kube-apiserver options: %w", ErrStart, errors.Join(errs...))
	}
	cp.cancel = cancel
	go func() { cp.stopped <- app.Run(runCtx, completed) }()

	ca, err := waitForFile(ctx, filepath.Join(certDir, "apiserver.crt"), cp.stopped)
	if err != nil {
		return err
	}
	cp.Config = &rest.Config{
		Host:            "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		QPS:             200,
		Burst:           400,
	}
	return cp.waitReady(ctx)
}

// WriteKubeconfig writes a kubeconfig file that reaches the API server as
// User (the token, and the API server's CA), for processes such as
// kube-controller-manager or KEDA that run beside the control plane.
func (cp *ControlPlane) WriteKubeconfig(path string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["controlplane"] = &clientcmdapi.Cluster{Server: cp.Config.Host, CertificateAuthorityData: cp.Config.CAData}
	cfg.AuthInfos[User] = &clientcmdapi.AuthInfo{Token: cp.Config.BearerToken}
	cfg.Contexts["controlplane"] = &clientcmdapi.Context{Cluster: "controlplane", AuthInfo: User}
	cfg.CurrentContext = "controlplane"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("%w: kubeconfig: %w", ErrStart, err)
	}
	return os.Chmod(path, 0o600)
}

// waitReady polls /readyz until it answers ok.
func (cp *ControlPlane) waitReady(ctx context.Context) error {
	client, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		return fmt.Errorf("%w: client: %w", ErrStart, err)
	}
	var last error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		status := 0
		res := client.CoreV1().RESTClient().Get().AbsPath("/readyz").Do(ctx)
		res.StatusCode(&status)
		if status == 200 {
			return nil
		}
		last = res.Error()
		select {
		case err := <-cp.stopped:
			cp.cancel = nil
			return fmt.Errorf("%w: kube-apiserver stopped: %w (log: %s)", ErrStart, err, filepath.Join(cp.Dir, "apiserver.log"))
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for /readyz: %w (last answer: %v)", ErrStart, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func waitForFile(ctx context.Context, path string, stopped chan error) ([]byte, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b, nil
		}
		select {
		case err := <-stopped:
			stopped <- err
			return nil, fmt.Errorf("%w: kube-apiserver stopped before writing %s: %w", ErrStart, path, err)
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for %s: %w", ErrStart, path, ctx.Err())
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("%w: free port: %w", ErrStart, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("%w: token: %w", ErrStart, err)
	}
	return hex.EncodeToString(b), nil
}

func writeECKey(path string) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("%w: key: %w", ErrStart, err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return fmt.Errorf("%w: key: %w", ErrStart, err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("%w: key: %w", ErrStart, err)
	}
	return nil
}
