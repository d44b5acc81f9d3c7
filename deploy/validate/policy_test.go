package validate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/internal/testenv"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

const sidePort = 8090

func one[T any](t *testing.T, decoded map[string][]any, kind string) T {
	t.Helper()
	list := decoded[kind]
	var out []T
	for _, v := range list {
		if x, ok := v.(T); ok {
			out = append(out, x)
		}
	}
	if len(out) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(out))
	}
	return out[0]
}

func workerDeployment(t *testing.T, decoded map[string][]any) *appsv1.Deployment {
	t.Helper()
	for _, v := range decoded["Deployment"] {
		if d := v.(*appsv1.Deployment); d.Name == "fraudscore" {
			return d
		}
	}
	t.Fatal("no Deployment fraudscore")
	return nil
}

// configOf merges the ConfigMaps a container reads with envFrom and its env.
func configOf(t *testing.T, decoded map[string][]any, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			t.Errorf("envFrom other than a ConfigMap: %+v", ef)
			continue
		}
		found := false
		for _, v := range decoded["ConfigMap"] {
			if cm := v.(*corev1.ConfigMap); cm.Name == ef.ConfigMapRef.Name {
				found = true
				for k, val := range cm.Data {
					env[k] = val
				}
			}
		}
		if !found {
			t.Errorf("envFrom ConfigMap %s is not rendered", ef.ConfigMapRef.Name)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return env
}

var secretLooking = regexp.MustCompile(`(?i)(-----BEGIN|eyJ[a-zA-Z0-9_-]{10,}|\bS[UOA][A-Z2-7]{40,}|password=|token=|://[^/@\s]+:[^/@\s]+@)`)

func TestWorkloadSecurityAndProbes(t *testing.T) {
	ovs := overlays(t)
	for _, name := range sortedKeys(ovs) {
		t.Run(name, func(t *testing.T) {
			decoded := decodeAll(t, render(t, ovs[name]))
			d := workerDeployment(t, decoded)
			ps := d.Spec.Template.Spec
			if len(ps.Containers) != 1 || len(ps.InitContainers) != 0 {
				t.Fatalf("want one container, got %d (+%d init)", len(ps.Containers), len(ps.InitContainers))
			}
			c := ps.Containers[0]
			psc, sc := ps.SecurityContext, c.SecurityContext
			if psc == nil || sc == nil {
				t.Fatal("pod and container securityContext are required")
			}
			check := func(ok bool, what string) {
				t.Helper()
				if !ok {
					t.Error(what)
				}
			}
			check(psc.RunAsNonRoot != nil && *psc.RunAsNonRoot, "pod runAsNonRoot must be true")
			check(psc.RunAsUser != nil && *psc.RunAsUser == 65532, "pod runAsUser must be 65532")
			check(sc.RunAsNonRoot == nil || *sc.RunAsNonRoot, "container runAsNonRoot must not be false")
			check(sc.RunAsUser == nil || *sc.RunAsUser == 65532, "container runAsUser must be 65532")
			check(sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "readOnlyRootFilesystem must be true")
			check(sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "allowPrivilegeEscalation must be false")
			check(sc.Privileged == nil || !*sc.Privileged, "privileged must be false")
			check(sc.Capabilities != nil && len(sc.Capabilities.Add) == 0 &&
				len(sc.Capabilities.Drop) == 1 && sc.Capabilities.Drop[0] == "ALL", "capabilities: drop [ALL], add nothing")
			seccomp := psc.SeccompProfile
			if sc.SeccompProfile != nil {
				seccomp = sc.SeccompProfile
			}
			check(seccomp != nil && seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault, "seccompProfile must be RuntimeDefault")
			check(ps.HostNetwork == false && ps.HostPID == false && ps.HostIPC == false, "no host namespaces")
			check(ps.AutomountServiceAccountToken != nil && !*ps.AutomountServiceAccountToken, "pod automountServiceAccountToken must be false")
			sa := one[*corev1.ServiceAccount](t, decoded, "ServiceAccount")
			check(ps.ServiceAccountName == sa.Name, "pod must use the rendered ServiceAccount")
			check(sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken, "ServiceAccount automountServiceAccountToken must be false")
			check(len(ps.TopologySpreadConstraints) > 0 && ps.TopologySpreadConstraints[0].TopologyKey == "kubernetes.io/hostname",
				"topologySpreadConstraints across nodes (kubernetes.io/hostname) first")

			// Resources: requests and limits for cpu and memory.
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
				check(!req.IsZero() && !lim.IsZero() && req.Cmp(lim) <= 0, "requests and limits of "+string(r)+", request <= limit")
			}
			// GOMAXPROCS and GOMEMLIMIT from the container's limits.
			fromLimits := map[string]string{}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil {
					fromLimits[e.Name] = e.ValueFrom.ResourceFieldRef.Resource
				}
			}
			check(fromLimits["GOMAXPROCS"] == "limits.cpu", "GOMAXPROCS from limits.cpu")
			// GOMEMLIMIT from limits.memory, or a literal between 50% and 95%
			// of it (prod: 90%, which the Downward API cannot express).
			if fromLimits["GOMEMLIMIT"] != "limits.memory" {
				lit := ""
				for _, e := range c.Env {
					if e.Name == "GOMEMLIMIT" && e.ValueFrom == nil {
						lit = e.Value
					}
				}
				q, err := resource.ParseQuantity(strings.TrimSuffix(lit, "B")) // Go's 230MiB is Kubernetes' 230Mi
				lim := c.Resources.Limits[corev1.ResourceMemory]
				check(err == nil && q.Value() >= lim.Value()/2 && q.Value() <= lim.Value()*95/100,
					"GOMEMLIMIT "+lit+" must come from limits.memory or be 50-95% of it")
			}

			// Probes on the side port.
			probe := func(p *corev1.Probe, path, what string) {
				t.Helper()
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s: HTTP probe required", what)
					return
				}
				port := p.HTTPGet.Port.IntValue()
				if p.HTTPGet.Port.String() == "metrics" {
					port = sidePort
				}
				if p.HTTPGet.Path != path || port != sidePort {
					t.Errorf("%s: %s on %s, want %s on %d", what, p.HTTPGet.Path, p.HTTPGet.Port.String(), path, sidePort)
				}
			}
			probe(c.LivenessProbe, "/healthz", "livenessProbe")
			probe(c.ReadinessProbe, "/readyz", "readinessProbe")
			if c.StartupProbe == nil {
				t.Error("startupProbe required")
			}
			check(len(c.Ports) == 1 && c.Ports[0].Name == "metrics" && c.Ports[0].ContainerPort == sidePort, "one container port, metrics 8090")

			env := configOf(t, decoded, c)
			// Grace period covers the consumer drain and the connection drain
			// (each up to FRAUDSCORE_DRAIN_TIMEOUT, default 20s).
			drain := 20 * time.Second
			if v, ok := env["FRAUDSCORE_DRAIN_TIMEOUT"]; ok {
				var err error
				if drain, err = time.ParseDuration(v); err != nil {
					t.Fatalf("FRAUDSCORE_DRAIN_TIMEOUT=%q: %v", v, err)
				}
			}
			grace := time.Duration(*ps.TerminationGracePeriodSeconds) * time.Second
			check(grace > 2*drain, "terminationGracePeriodSeconds "+grace.String()+" must exceed 2 x FRAUDSCORE_DRAIN_TIMEOUT "+drain.String())
			check(env["FRAUDSCORE_HTTP_ADDR"] == "" || strings.HasSuffix(env["FRAUDSCORE_HTTP_ADDR"], ":8090"), "side port :8090")
			check(env["FRAUDSCORE_EMBEDDED"] != "true" && env["FRAUDSCORE_DEMO_RATE"] == "", "no embedded server or demo traffic in a cluster")

			// No secrets in ConfigMaps: credentials are files from Secrets.
			for _, v := range decoded["ConfigMap"] {
				cm := v.(*corev1.ConfigMap)
				for k, val := range cm.Data {
					upper := strings.ToUpper(k)
					if (strings.Contains(upper, "PASSWORD") || strings.Contains(upper, "TOKEN") || strings.Contains(upper, "SECRET") ||
						strings.Contains(upper, "CREDS") || strings.Contains(upper, "NKEY") || upper == "FRAUDSCORE_NATS_USER") &&
						!strings.HasSuffix(upper, "_FILE") {
						t.Errorf("ConfigMap %s: key %s looks like a credential", cm.Name, k)
					}
					if secretLooking.MatchString(val) {
						t.Errorf("ConfigMap %s: value of %s looks like a secret", cm.Name, k)
					}
				}
			}
			// Credentials and CA, when used, are files from Secret volumes.
			onSecret := func(p string) bool {
				for _, m := range c.VolumeMounts {
					if strings.HasPrefix(p, m.MountPath+"/") {
						for _, vol := range ps.Volumes {
							if vol.Name == m.Name && vol.Secret != nil && m.ReadOnly {
								return true
							}
						}
					}
				}
				return false
			}
			for _, k := range []string{"FRAUDSCORE_NATS_CREDS_FILE", "FRAUDSCORE_NATS_PASSWORD_FILE", "FRAUDSCORE_NATS_NKEY_FILE",
				"FRAUDSCORE_NATS_TOKEN_FILE", "FRAUDSCORE_NATS_CA_FILE", "FRAUDSCORE_NATS_KEY_FILE"} {
				if p := env[k]; p != "" {
					check(onSecret(p), k+" must be on a read-only Secret volume")
				}
			}
			if p := env["FRAUDSCORE_NATS_CREDS_FILE"]; p != "" {
				check(p == "/etc/fraudscore/nats/user.creds", "creds file path")
			}
			// The worker's inbox prefix is the one accounts.conf allows.
			check(env["FRAUDSCORE_NATS_INBOX_PREFIX"] == "_INBOX_fraudscore", "FRAUDSCORE_NATS_INBOX_PREFIX=_INBOX_fraudscore")
			for _, e := range c.Env {
				check(e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil, "secrets as files, not env: "+e.Name)
			}

			// Side port Service.
			foundSvc := false
			for _, v := range decoded["Service"] {
				s := v.(*corev1.Service)
				for _, p := range s.Spec.Ports {
					if p.Name == "metrics" && p.Port == sidePort && s.Spec.Selector["app.kubernetes.io/name"] == "fraudscore" {
						foundSvc = true
					}
				}
			}
			check(foundSvc, "a Service with port metrics 8090 selecting the worker")

			// NetworkPolicy: egress only NATS 4222 and DNS 53; ingress only 8090.
			np := one[*networkingv1.NetworkPolicy](t, decoded, "NetworkPolicy")
			check(len(np.Spec.PolicyTypes) == 2, "NetworkPolicy covers Ingress and Egress")
			for _, r := range np.Spec.Egress {
				for _, p := range r.Ports {
					check(p.Port != nil && (p.Port.IntValue() == 4222 || p.Port.IntValue() == 53), "egress port "+p.Port.String())
				}
				check(len(r.Ports) > 0 && len(r.To) > 0, "egress rules name peers and ports")
			}
			for _, r := range np.Spec.Ingress {
				check(len(r.Ports) == 1 && r.Ports[0].Port.IntValue() == sidePort, "ingress only to the side port")
				check(len(r.From) > 0 && r.From[0].NamespaceSelector != nil, "ingress only from the monitoring namespace")
			}

			switch name {
			case "dev":
				check(d.Spec.Replicas != nil && *d.Spec.Replicas == 1, "dev: one replica")
				check(env["FRAUDSCORE_LOG_LEVEL"] == "debug", "dev: LOG_LEVEL=debug")
			case "prod":
				check(env["FRAUDSCORE_STREAM_REPLICAS"] == "3", "prod: FRAUDSCORE_STREAM_REPLICAS=3")
				check(len(decoded["PodDisruptionBudget"]) >= 1, "prod: PodDisruptionBudget")
				var ss *appsv1.StatefulSet
				for _, v := range decoded["StatefulSet"] {
					if s := v.(*appsv1.StatefulSet); s.Name == "nats" {
						ss = s
					}
				}
				if ss == nil {
					t.Fatal("prod: NATS StatefulSet")
				}
				check(ss.Spec.Replicas != nil && *ss.Spec.Replicas == 3, "prod: 3 NATS servers")
				check(len(ss.Spec.VolumeClaimTemplates) == 1, "prod: JetStream on a PVC")
				check(len(decoded["ScaledObject"]) == 1, "prod: KEDA ScaledObject")
				// prod authenticates as the least-privilege user worker over TLS.
				check(env["FRAUDSCORE_NATS_USER"] == "worker", "prod: FRAUDSCORE_NATS_USER=worker")
				check(env["FRAUDSCORE_NATS_PASSWORD_FILE"] != "", "prod: FRAUDSCORE_NATS_PASSWORD_FILE")
				check(env["FRAUDSCORE_NATS_CA_FILE"] != "", "prod: FRAUDSCORE_NATS_CA_FILE (deploy/nats serves TLS)")
				checkNATSMounts(t, decoded, ss)
			}
		})
	}
}

// TestAutoscalersExclusive: an overlay has a ScaledObject or an HPA for the
// worker, never both (KEDA owns an HPA of its own; two would fight).
func TestAutoscalersExclusive(t *testing.T) {
	ovs := overlays(t)
	for _, name := range sortedKeys(ovs) {
		t.Run(name, func(t *testing.T) {
			if err := autoscalerConflict(render(t, ovs[name])); err != "" {
				t.Error(err)
			}
		})
	}
	// The check itself: a throwaway overlay with both components must fail it.
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	// kustomize takes relative paths only.
	rel := func(p string) string {
		r, err := filepath.Rel(dir, filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + rel("kustomize/base") +
		"\ncomponents:\n  - " + rel("kustomize/components/hpa") + "\n  - " + rel("kustomize/components/keda") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	if autoscalerConflict(render(t, dir)) == "" {
		t.Error("an overlay with both hpa and keda components was not detected")
	}
	// Each component alone renders and validates.
	for _, comp := range []string{"hpa", "keda", "servicemonitor"} {
		d := filepath.Join(dir, comp)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: fraudscore\nresources:\n  - ../" +
			rel("kustomize/base") + "\ncomponents:\n  - ../" + rel("kustomize/components/"+comp) + "\n"
		if err := os.WriteFile(filepath.Join(d, "kustomization.yaml"), []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
		decodeAll(t, render(t, d))
	}
}

func autoscalerConflict(objs []object) string {
	targets := map[string][]string{}
	for _, o := range objs {
		var ref struct {
			Spec struct{ ScaleTargetRef struct{ Kind, Name string } }
		}
		if o.Kind != "HorizontalPodAutoscaler" && o.Kind != "ScaledObject" {
			continue
		}
		_ = json.Unmarshal(o.JSON, &ref)
		key := ref.Spec.ScaleTargetRef.Kind + "/" + ref.Spec.ScaleTargetRef.Name
		if ref.Spec.ScaleTargetRef.Kind == "" {
			key = "Deployment/" + ref.Spec.ScaleTargetRef.Name // ScaledObject default kind
		}
		targets[key] = append(targets[key], o.Kind+" "+o.Name)
	}
	for target, by := range targets {
		if len(by) > 1 {
			return target + " is scaled by more than one autoscaler (" + strings.Join(by, ", ") + "): use components/hpa or components/keda, never both"
		}
	}
	return ""
}

// checkNATSMounts: the NATS StatefulSet mounts its configuration the way
// nats.conf includes it (relative to /etc/nats/config): nats.conf, then
// accounts.conf and tls.conf from deploy/security's ConfigMap, and
// users/<user>.conf from the Secret for every user accounts.conf includes;
// TLS material in /etc/nats/tls. Every referenced ConfigMap is rendered.
func checkNATSMounts(t *testing.T, decoded map[string][]any, ss *appsv1.StatefulSet) {
	t.Helper()
	root := testenv.RepoRoot(t)
	natsConf, err := os.ReadFile(filepath.Join(root, "deploy", "nats", "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := os.ReadFile(filepath.Join(root, "deploy", "security", "accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"nats.conf": true}
	for _, m := range regexp.MustCompile(`(?m)^\s*include\s+\./(\S+)`).FindAllStringSubmatch(string(natsConf)+"\n"+string(accounts), -1) {
		want[m[1]] = true
	}
	if !want["accounts.conf"] || !want["tls.conf"] || !want["users/worker.conf"] {
		t.Fatalf("nats.conf/accounts.conf includes %v: want accounts.conf, tls.conf and users/<user>.conf", sortedKeys(want))
	}
	c := ss.Spec.Template.Spec.Containers[0]
	if strings.Join(c.Args, " ") != "--config /etc/nats/config/nats.conf" {
		t.Errorf("nats args %v, want --config /etc/nats/config/nats.conf", c.Args)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	configMaps := map[string]*corev1.ConfigMap{}
	for _, v := range decoded["ConfigMap"] {
		cm := v.(*corev1.ConfigMap)
		configMaps[cm.Name] = cm
	}
	got := map[string]bool{}
	for _, vol := range ss.Spec.Template.Spec.Volumes {
		switch {
		case vol.Name == "config":
			if mounts["config"] != "/etc/nats/config" || vol.Projected == nil {
				t.Errorf("volume config: a projected volume at /etc/nats/config")
				continue
			}
			for _, src := range vol.Projected.Sources {
				switch {
				case src.ConfigMap != nil:
					cm := configMaps[src.ConfigMap.Name]
					if cm == nil {
						t.Errorf("projected ConfigMap %s is not rendered", src.ConfigMap.Name)
						continue
					}
					for _, it := range src.ConfigMap.Items {
						if _, ok := cm.Data[it.Key]; !ok {
							t.Errorf("ConfigMap %s has no key %s", cm.Name, it.Key)
						}
						got[it.Path] = true
					}
				case src.Secret != nil:
					if src.Secret.Name != "fraudscore-nats-users" {
						t.Errorf("projected Secret %s, want fraudscore-nats-users", src.Secret.Name)
					}
					if src.Secret.Optional != nil && *src.Secret.Optional {
						t.Error("the users Secret must not be optional (fail closed)")
					}
					for _, it := range src.Secret.Items {
						if it.Path != "users/"+it.Key {
							t.Errorf("users Secret key %s projected to %s, want users/%s", it.Key, it.Path, it.Key)
						}
						got[it.Path] = true
					}
				}
			}
		case vol.Name == "tls":
			if mounts["tls"] != "/etc/nats/tls" || vol.Secret == nil {
				t.Error("volume tls: the certificate Secret at /etc/nats/tls (tls.conf's paths)")
			}
		}
	}
	for f := range want {
		if !got[f] {
			t.Errorf("nats.conf includes ./%s, but the StatefulSet does not mount it in /etc/nats/config", f)
		}
	}
	for f := range got {
		if !want[f] {
			t.Errorf("/etc/nats/config/%s is mounted but never included", f)
		}
	}
}
