package validate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

// TestOverlaysStart is "a deploy that starts": for every overlay it runs the
// rendered NATS StatefulSet's configuration (its nats.conf and everything it
// includes, with the rendered storage limits) in real nats-servers, one per
// replica, and the worker binary with the rendered Deployment's environment
// (ConfigMap and env), then waits for /readyz and checks the streams the
// worker created. What is adapted, and only that: every volume's mount path
// is a temporary directory holding what the test puts in the volume
// (Secrets: generated users, passwords and TLS material; emptyDirs and PVCs:
// empty), $POD_NAME is each server's pod name, listen addresses are free
// 127.0.0.1 ports and routes point at them, and the worker's NATS URL,
// side port and /models are the test's.
func TestOverlaysStart(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping live servers and workers")
	}
	ovs := overlays(t)
	for _, name := range sortedKeys(ovs) {
		t.Run(name, func(t *testing.T) {
			d := newDeployment(t, name, render(t, ovs[name]))
			d.checkStorageFitsVolume(t)
			d.startNATS(t)
			w := d.startWorker(t, nil)
			w.WaitHTTP(t, "http://"+d.workerHTTP+"/readyz", 90*time.Second)
			d.checkStreams(t)
		})
	}
	// The dev overlay as it was: VERDICTS with the worker's 10 GiB default
	// against dev NATS's 1 GiB file store. The worker must fail, naming the
	// cause, instead of getting ready.
	t.Run("dev with the old 10 GiB VERDICTS", func(t *testing.T) {
		d := newDeployment(t, "dev", render(t, ovs["dev"]))
		d.startNATS(t)
		w := d.startWorker(t, map[string]string{"FRAUDSCORE_VERDICT_MAX_BYTES": "10737418240"})
		code := w.WaitExit(t, 90*time.Second)
		if code == 0 {
			t.Fatalf("worker exited 0; want a failure:\n%s", w.Output())
		}
		if !strings.Contains(w.Output(), "insufficient storage resources available") {
			t.Fatalf("worker exited %d without naming the storage limit:\n%s", code, w.Output())
		}
	})
}

// deployment is one rendered overlay brought up on 127.0.0.1.
type deployment struct {
	overlay    string
	objs       []object
	dir        string
	nats       *appsv1.StatefulSet
	worker     *appsv1.Deployment
	pki        *testenv.PKI
	passwords  map[string]string // NATS user -> password (prod)
	servers    []*server.Server
	workerHTTP string
}

func newDeployment(t *testing.T, overlay string, objs []object) *deployment {
	t.Helper()
	d := &deployment{overlay: overlay, objs: objs, dir: t.TempDir(), passwords: map[string]string{}}
	for _, o := range find(objs, "StatefulSet") {
		if o.Name == "nats" {
			d.nats = decodeObject[appsv1.StatefulSet](t, o)
		}
	}
	for _, o := range find(objs, "Deployment") {
		d.worker = decodeObject[appsv1.Deployment](t, o)
	}
	if d.nats == nil || d.worker == nil {
		t.Fatalf("%s renders no StatefulSet nats or no Deployment", overlay)
	}
	d.pki = testenv.NewPKI(t, filepath.Join(d.dir, "pki"))
	return d
}

func decodeObject[T any](t *testing.T, o object) *T {
	t.Helper()
	v := new(T)
	if err := json.Unmarshal(o.JSON, v); err != nil {
		t.Fatalf("%s: %v", o, err)
	}
	return v
}

// configMap returns the data of the rendered ConfigMap name (names carry
// kustomize's hash suffix, as the references to them do).
func (d *deployment) configMap(t *testing.T, name string) map[string]string {
	t.Helper()
	for _, o := range find(d.objs, "ConfigMap") {
		if o.Name == name {
			return decodeObject[corev1.ConfigMap](t, o).Data
		}
	}
	t.Fatalf("%s: no ConfigMap %s", d.overlay, name)
	return nil
}

// secret returns what the test puts in a Secret the overlay expects to
// exist in the cluster (docs/deploy.md, docs/security.md): NATS users with
// bcrypt hashes of fresh passwords, the worker's password, the server's
// certificate from the test PKI.
func (d *deployment) secret(t *testing.T, name, key string) []byte {
	t.Helper()
	password := func(user string) string {
		if d.passwords[user] == "" {
			b := make([]byte, 18)
			if _, err := rand.Read(b); err != nil {
				t.Fatal(err)
			}
			d.passwords[user] = "pw-" + hex.EncodeToString(b)
		}
		return d.passwords[user]
	}
	switch {
	case name == "fraudscore-nats-users" && strings.HasSuffix(key, ".conf"):
		user := strings.TrimSuffix(key, ".conf")
		h, err := bcrypt.GenerateFromPassword([]byte(password(user)), 6)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Appendf(nil, "user: %q\npassword: %q\n", user, h)
	case name == "fraudscore-nats" && key == "password":
		return []byte(password("worker") + "\n")
	case name == "nats-tls":
		src := map[string]string{"tls.crt": d.pki.ServerCert, "tls.key": d.pki.ServerKey, "ca.crt": d.pki.CAFile}[key]
		if src != "" {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("%s: the test does not know what Secret %s key %s holds", d.overlay, name, key)
	return nil
}

// mountVolumes writes each volume mounted by c under dir/<pod>/<volume> and
// returns the mount paths with the directories standing for them.
func (d *deployment) mountVolumes(t *testing.T, pod string, spec corev1.PodSpec, c corev1.Container) map[string]string {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		dir := filepath.Join(d.dir, pod, m.Name)
		mounts[m.MountPath] = dir
		writeVolume := func(path string, data []byte) {
			p := filepath.Join(dir, filepath.FromSlash(path))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		v, ok := vols[m.Name]
		if !ok { // a volumeClaimTemplate: an empty directory
			continue
		}
		fromConfigMap := func(cm *corev1.ConfigMapProjection) {
			data := d.configMap(t, cm.Name)
			if len(cm.Items) == 0 {
				for k, val := range data {
					writeVolume(k, []byte(val))
				}
			}
			for _, it := range cm.Items {
				val, ok := data[it.Key]
				if !ok {
					t.Fatalf("%s: ConfigMap %s has no key %s", d.overlay, cm.Name, it.Key)
				}
				writeVolume(it.Path, []byte(val))
			}
		}
		fromSecret := func(name string, items []corev1.KeyToPath) {
			if len(items) == 0 {
				t.Fatalf("%s: Secret %s is mounted without items; the test cannot know its keys", d.overlay, name)
			}
			for _, it := range items {
				writeVolume(it.Path, d.secret(t, name, it.Key))
			}
		}
		switch {
		case v.ConfigMap != nil:
			fromConfigMap(&corev1.ConfigMapProjection{LocalObjectReference: v.ConfigMap.LocalObjectReference, Items: v.ConfigMap.Items})
		case v.Secret != nil:
			fromSecret(v.Secret.SecretName, v.Secret.Items)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				switch {
				case src.ConfigMap != nil:
					fromConfigMap(src.ConfigMap)
				case src.Secret != nil:
					fromSecret(src.Secret.Name, src.Secret.Items)
				default:
					t.Fatalf("%s: projected source %+v not supported by the test", d.overlay, src)
				}
			}
		case v.EmptyDir != nil:
		default:
			t.Fatalf("%s: volume %s: source not supported by the test", d.overlay, v.Name)
		}
	}
	return mounts
}

// localPaths rewrites, in one pass, every mount path in s that is followed
// by "/" or by a character that cannot continue a path to its local
// directory (the longest mount path wins: /etc/x-ca is not /etc/x).
func localPaths(s string, mounts map[string]string) string {
	paths := sortedKeys(mounts)
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	alts := make([]string, len(paths))
	for i, p := range paths {
		alts[i] = regexp.QuoteMeta(strings.TrimSuffix(p, "/"))
	}
	re := regexp.MustCompile(`(` + strings.Join(alts, "|") + `)(/|$|[^A-Za-z0-9._/-])`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sub := re.FindStringSubmatch(m)
		for _, p := range paths {
			if strings.TrimSuffix(p, "/") == sub[1] {
				return mounts[p] + sub[2]
			}
		}
		return m
	})
}

// containerEnv resolves c's environment (envFrom ConfigMaps, then env) as
// the kubelet would for pod, with resource limits from c.
func (d *deployment) containerEnv(t *testing.T, pod string, c corev1.Container) ([]string, map[string]string) {
	t.Helper()
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			t.Fatalf("%s: envFrom %+v not supported by the test", d.overlay, ef)
		}
		data := d.configMap(t, ef.ConfigMapRef.Name)
		for _, k := range sortedKeys(data) {
			set(ef.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			set(e.Name, e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			set(e.Name, pod)
		case e.ValueFrom.ResourceFieldRef != nil:
			set(e.Name, resourceValue(t, c, e.ValueFrom.ResourceFieldRef))
		default:
			t.Fatalf("%s: env %s: source not supported by the test", d.overlay, e.Name)
		}
	}
	return order, vals
}

// resourceValue is the kubelet's value of a resourceFieldRef: the limit
// divided by the divisor, rounded up.
func resourceValue(t *testing.T, c corev1.Container, ref *corev1.ResourceFieldSelector) string {
	t.Helper()
	res := strings.TrimPrefix(ref.Resource, "limits.")
	q, ok := c.Resources.Limits[corev1.ResourceName(res)]
	if !ok || ref.Resource == res {
		t.Fatalf("resourceFieldRef %s: only set limits are supported by the test", ref.Resource)
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if res == "cpu" {
		return strconv.FormatInt((q.MilliValue()+div.MilliValue()-1)/div.MilliValue(), 10)
	}
	return strconv.FormatInt((q.Value()+div.Value()-1)/div.Value(), 10)
}

// natsContainer is the NATS StatefulSet's container and its config path.
func (d *deployment) natsContainer(t *testing.T) (corev1.Container, string) {
	t.Helper()
	c := d.nats.Spec.Template.Spec.Containers[0]
	for i, a := range c.Args {
		if (a == "--config" || a == "-c") && i+1 < len(c.Args) {
			return c, c.Args[i+1]
		}
	}
	t.Fatalf("%s: the nats container has no --config argument: %v", d.overlay, c.Args)
	return c, ""
}

// podOptions loads the server configuration of pod replica i exactly as
// `nats-server --config` would in the pod, after the adaptations listed on
// TestOverlaysStart.
func (d *deployment) podOptions(t *testing.T, i int) *server.Options {
	t.Helper()
	c, conf := d.natsContainer(t)
	pod := fmt.Sprintf("nats-%d", i)
	mounts := d.mountVolumes(t, pod, d.nats.Spec.Template.Spec, c)
	_, env := d.containerEnv(t, pod, c)
	// Config files: mount paths to local directories, $VAR from the env.
	err := filepath.WalkDir(filepath.Join(d.dir, pod), func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(p, ".conf") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := localPaths(string(b), mounts)
		for k, v := range env {
			s = strings.ReplaceAll(s, "$"+k+"\n", v+"\n")
		}
		return os.WriteFile(p, []byte(s), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(localPaths(conf, mounts))
	if err != nil {
		t.Fatalf("%s: the rendered NATS configuration does not load: %v", d.overlay, err)
	}
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.PidFile = ""
	opts.NoSigs = true
	return opts
}

// checkStorageFitsVolume checks that JetStream's max_file_store fits the
// data volume (PVC request or emptyDir sizeLimit) of the NATS pods.
func (d *deployment) checkStorageFitsVolume(t *testing.T) {
	t.Helper()
	opts := d.podOptions(t, 0)
	if opts.JetStreamMaxStore <= 0 {
		t.Fatalf("%s: NATS has no max_file_store: the server would take 75%% of the disk it finds", d.overlay)
	}
	c, _ := d.natsContainer(t)
	var size *resource.Quantity
	for _, m := range c.VolumeMounts {
		local := filepath.Join(d.dir, "nats-0", m.Name)
		if !strings.HasPrefix(opts.StoreDir, local+string(filepath.Separator)) && opts.StoreDir != local {
			continue
		}
		for _, v := range d.nats.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				size = v.EmptyDir.SizeLimit
			}
		}
		for _, pvc := range d.nats.Spec.VolumeClaimTemplates {
			if pvc.Name == m.Name {
				q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
				size = &q
			}
		}
	}
	if size == nil {
		t.Fatalf("%s: the JetStream store %s is on no volume with a size", d.overlay, opts.StoreDir)
	}
	if opts.JetStreamMaxStore > size.Value() {
		t.Errorf("%s: max_file_store %d bytes exceeds the data volume's %s", d.overlay, opts.JetStreamMaxStore, size)
	}
	t.Logf("%s: max_file_store %d bytes on a %s volume", d.overlay, opts.JetStreamMaxStore, size)
}

// startNATS runs one server per StatefulSet replica, clustered by their
// routes when the configuration has a cluster block.
func (d *deployment) startNATS(t *testing.T) {
	t.Helper()
	n := 1
	if d.nats.Spec.Replicas != nil {
		n = int(*d.nats.Spec.Replicas)
	}
	// Every route port must be known before the first server starts (a
	// clustered JetStream server refuses to start without routes), so they
	// are chosen together, after the options are read, just before the
	// servers bind them.
	all := make([]*server.Options, n)
	for i := range all {
		all[i] = d.podOptions(t, i)
	}
	clusterPorts := testenv.FreePorts(t, n)
	for i, opts := range all {
		if opts.Cluster.Port != 0 {
			opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", clusterPorts[i]
			// Routes name pods (nats-N.nats-headless:6222): pod N is here.
			for _, r := range opts.Routes {
				var pod int
				if _, err := fmt.Sscanf(r.Hostname(), "nats-%d", &pod); err != nil || pod >= n {
					t.Fatalf("%s: route %s names no pod of the StatefulSet", d.overlay, r)
				}
				r.Host = fmt.Sprintf("127.0.0.1:%d", clusterPorts[pod])
			}
		} else if n > 1 {
			t.Fatalf("%s: %d NATS replicas without a cluster block", d.overlay, n)
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("%s: nats-server %d: %v", d.overlay, i, err)
		}
		// Its errors go to the test's log: a server that is not ready
		// says why (a port taken, JetStream refusing to start).
		s.SetLoggerV2(serverLog{t, fmt.Sprintf("nats-server %d: ", i)}, false, false, false)
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		d.servers = append(d.servers, s)
	}
	for i, s := range d.servers {
		if !s.ReadyForConnections(60 * time.Second) {
			t.Fatalf("%s: nats-server %d not ready", d.overlay, i)
		}
	}
	if n > 1 {
		// A JetStream API request sent before the meta leader is elected
		// goes unanswered (the worker's 30 s setup would time out, and a
		// pod would restart once): in the cluster, the NATS pods' startup
		// probe comes first.
		natstest.WaitJetStreamLeader(t, 60*time.Second, d.servers...)
	}
}

// serverLog passes a server's warnings and errors to the test's log.
type serverLog struct {
	t      *testing.T
	prefix string
}

func (l serverLog) Noticef(string, ...any)    {}
func (l serverLog) Debugf(string, ...any)     {}
func (l serverLog) Tracef(string, ...any)     {}
func (l serverLog) Warnf(f string, a ...any)  { l.t.Logf(l.prefix+"warning: "+f, a...) }
func (l serverLog) Errorf(f string, a ...any) { l.t.Logf(l.prefix+"error: "+f, a...) }
func (l serverLog) Fatalf(f string, a ...any) { l.t.Logf(l.prefix+"fatal: "+f, a...) }

// clientURLs are the servers' client URLs with the given scheme.
func (d *deployment) clientURLs(scheme string) string {
	var urls []string
	for _, s := range d.servers {
		urls = append(urls, fmt.Sprintf("%s://127.0.0.1:%d", scheme, s.Addr().(*net.TCPAddr).Port))
	}
	return strings.Join(urls, ",")
}

// startWorker runs the worker binary with the rendered Deployment's
// environment; override replaces variables after that (a broken value).
func (d *deployment) startWorker(t *testing.T, override map[string]string) *testenv.Process {
	t.Helper()
	spec := d.worker.Spec.Template.Spec
	c := spec.Containers[0]
	pod := "fraudscore-" + d.overlay + "-0"
	mounts := d.mountVolumes(t, pod, spec, c)
	// The image holds the bundled models in /models (Dockerfile).
	mounts["/models"] = testenv.ModelDir(t)
	order, vals := d.containerEnv(t, pod, c)
	u, err := url.Parse(strings.Split(vals["FRAUDSCORE_NATS_URL"], ",")[0])
	if err != nil || u.Scheme == "" {
		t.Fatalf("%s: FRAUDSCORE_NATS_URL %q: %v", d.overlay, vals["FRAUDSCORE_NATS_URL"], err)
	}
	vals["FRAUDSCORE_NATS_URL"] = d.clientURLs(u.Scheme)
	d.workerHTTP = testenv.FreeAddr(t)
	vals["FRAUDSCORE_HTTP_ADDR"] = d.workerHTTP
	for k, v := range override {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	var env []string
	for _, k := range order {
		env = append(env, k+"="+localPaths(vals[k], mounts))
	}
	return testenv.StartProcess(t, testenv.Binary(t, "./cmd/fraudscore"), c.Args, env)
}

// checkStreams connects as an administrator (the ops user where NATS has
// accounts) and checks that the worker's four streams exist with the
// overlay's replicas and VERDICTS byte limit.
func (d *deployment) checkStreams(t *testing.T) {
	t.Helper()
	_, vals := d.containerEnv(t, "fraudscore-"+d.overlay+"-0", d.worker.Spec.Template.Spec.Containers[0])
	opts := []nats.Option{nats.Timeout(10 * time.Second)}
	scheme := "nats"
	if vals["FRAUDSCORE_NATS_CA_FILE"] != "" {
		scheme = "tls"
		opts = append(opts, nats.RootCAs(d.pki.CAFile))
	}
	if len(d.passwords) > 0 { // NATS has users: the test made their credentials
		if d.passwords["ops"] == "" {
			t.Fatalf("%s: NATS has users but no ops user", d.overlay)
		}
		opts = append(opts, nats.UserInfo("ops", d.passwords["ops"]))
	}
	nc, err := nats.Connect(d.clientURLs(scheme), opts...)
	if err != nil {
		t.Fatalf("%s: connect as ops: %v", d.overlay, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	replicas := 1
	if v := vals["FRAUDSCORE_STREAM_REPLICAS"]; v != "" {
		replicas, _ = strconv.Atoi(v)
	}
	for _, name := range []string{"TRANSACTIONS", "VERDICTS", "FRAUD_DLQ", "FRAUD_ADVISORIES"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Errorf("%s: stream %s: %v", d.overlay, name, err)
			continue
		}
		cfg := s.CachedInfo().Config
		if cfg.Replicas != replicas {
			t.Errorf("%s: stream %s has %d replicas, want %d", d.overlay, name, cfg.Replicas, replicas)
		}
		if name == "VERDICTS" {
			t.Logf("%s: VERDICTS max_bytes %d, replicas %d", d.overlay, cfg.MaxBytes, cfg.Replicas)
		}
	}
}
