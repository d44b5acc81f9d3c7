package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/fraudscore/fraudscore/tools/k8s/controlplane"
	"github.com/fraudscore/fraudscore/tools/k8s/crds"
	"github.com/fraudscore/fraudscore/tools/k8s/manifests"
)

// crdFiles are the CRDs the manifests use (package crds: KEDA's
// ScaledObject, the Prometheus Operator's ServiceMonitor and PrometheusRule).
func crdFiles() []crds.File { return append([]crds.File{crds.ScaledObject()}, crds.Monitoring()...) }

// env is what TestMain sets up once for every test: the control plane and
// a client of it, the repository root and kubectl.
type env struct {
	client  *manifests.Client
	root    string
	kubectl string
	goBin   string
}

var shared env

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-verify:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(filepath.Join(root, "kustomize", "overlays")); err != nil {
		return 0, fmt.Errorf("repository root not found from %s: %w", root, err)
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return 0, fmt.Errorf("kubectl renders the overlays (Debian package kubectl): %w", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "k8s-verify-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	cp, err := controlplane.Start(ctx, dir)
	if err != nil {
		return 0, err
	}
	defer cp.Stop()
	fmt.Printf("k8s-verify: etcd and kube-apiserver ready at %s in %s\n", cp.Config.Host, time.Since(start).Round(time.Millisecond))

	client, err := manifests.NewClient(cp.Config)
	if err != nil {
		return 0, err
	}
	var files []string
	for _, c := range crdFiles() {
		f, err := manifests.ModuleFile(ctx, goBin, c.Module, c.Version, c.Sum, c.Path)
		if err != nil {
			return 0, err
		}
		files = append(files, f)
	}
	if err := client.InstallCRDs(ctx, files...); err != nil {
		return 0, err
	}
	fmt.Printf("k8s-verify: CRDs established: %s@%s ScaledObject, %s@%s ServiceMonitor and PrometheusRule\n",
		crds.KEDAModule, crds.KEDAVersion, crds.PromModule, crds.PromVersion)
	shared = env{client: client, root: root, kubectl: kubectl, goBin: goBin}
	return m.Run(), nil
}

// combination is one way to deploy: an overlay as it is, or one with its
// components replaced, or the base with components.
type combination struct {
	name string
	// overlay under kustomize/overlays; empty: kustomize/base.
	overlay string
	// components under kustomize/components replace the overlay's when
	// non-nil.
	components []string
	// namespace replaces the overlay's; each combination gets its own so
	// that objects of one never mix with another's.
	namespace string
}

// offered is every overlay and component combination docs/deploy.md offers:
// the dev and prod overlays, prod without the ServiceMonitor ("or drop
// components/servicemonitor from the overlay"), prod with the CPU/memory HPA
// instead of KEDA (the two are alternatives, "How scaling works"), and each
// component alone on the base (as deploy/validate renders them).
var offered = []combination{
	{name: "dev", overlay: "dev"},
	{name: "prod", overlay: "prod"},
	{name: "prod-without-servicemonitor", overlay: "prod", components: []string{"keda"}, namespace: "fraudscore-prod-nosm"},
	{name: "prod-hpa-instead-of-keda", overlay: "prod", components: []string{"hpa", "servicemonitor"}, namespace: "fraudscore-prod-hpa"},
	{name: "base+hpa", components: []string{"hpa"}, namespace: "fraudscore-base-hpa"},
	{name: "base+keda", components: []string{"keda"}, namespace: "fraudscore-base-keda"},
	{name: "base+servicemonitor", components: []string{"servicemonitor"}, namespace: "fraudscore-base-sm"},
}

// forbidden combines hpa and keda: docs/deploy.md, "How scaling works".
var forbidden = combination{name: "base+hpa+keda", components: []string{"hpa", "keda"}, namespace: "fraudscore-forbidden"}

// kustomization returns a kustomize directory for c: the overlay itself when
// c changes nothing, else a copy in a temporary directory with relative
// paths back into the repository (kustomize takes relative paths only, and
// patch files must be inside the kustomization's directory).
func kustomization(t *testing.T, c combination) string {
	t.Helper()
	if c.overlay != "" && c.components == nil && c.namespace == "" {
		return filepath.Join(shared.root, "kustomize", "overlays", c.overlay)
	}
	dir := t.TempDir()
	rel := func(p string) string {
		r, err := filepath.Rel(dir, filepath.Join(shared.root, p))
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []any{rel("kustomize/base")},
	}
	if c.overlay != "" {
		src := filepath.Join(shared.root, "kustomize", "overlays", c.overlay)
		data, err := os.ReadFile(filepath.Join(src, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		k = map[string]any{}
		if err := yaml.Unmarshal(data, &k); err != nil {
			t.Fatal(err)
		}
		var resources []any
		for _, r := range k["resources"].([]any) {
			resources = append(resources, rel(filepath.Join("kustomize", "overlays", c.overlay, r.(string))))
		}
		k["resources"] = resources
		// Inline patches stay; those of a kind no component renders go.
		var patches []any
		for _, p := range asSlice(k["patches"]) {
			pm := p.(map[string]any)
			if target, ok := pm["target"].(map[string]any); ok && target["kind"] == "ScaledObject" && !slices.Contains(c.components, "keda") {
				continue
			}
			patches = append(patches, pm)
		}
		k["patches"] = patches
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() || e.Name() == "kustomization.yaml" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c.components != nil {
		var comps []any
		for _, name := range c.components {
			comps = append(comps, rel(filepath.Join("kustomize", "components", name)))
		}
		k["components"] = comps
	}
	if c.namespace != "" {
		k["namespace"] = c.namespace
	}
	out, err := yaml.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// render renders c with kubectl.
func render(t *testing.T, c combination) []*unstructured.Unstructured {
	t.Helper()
	objs, err := manifests.Render(t.Context(), shared.kubectl, kustomization(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s renders no object", c.name)
	}
	return objs
}

// apply creates the objects' namespaces and server-side applies them; the
// API server's refusal fails the test with its message.
func apply(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	for _, ns := range manifests.Namespaces(objs) {
		if err := shared.client.EnsureNamespace(t.Context(), ns); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := shared.client.Apply(t.Context(), objs)
	if err != nil {
		t.Fatalf("the API server refused %v", err)
	}
	if len(stored) != len(objs) {
		t.Fatalf("stored %d of %d objects", len(stored), len(objs))
	}
	return stored
}

// TestOfferedCombinationsApply: every overlay and component combination
// docs/deploy.md offers is accepted by a real kube-apiserver (server-side
// apply, strict field validation) with the CRDs installed.
func TestOfferedCombinationsApply(t *testing.T) {
	overlays, err := os.ReadDir(filepath.Join(shared.root, "kustomize", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	// Every overlay in the repository is in the table, including ones
	// added later.
	for _, o := range overlays {
		if o.IsDir() && !slices.ContainsFunc(offered, func(c combination) bool { return c.overlay == o.Name() && c.components == nil }) {
			t.Errorf("overlay %s is not in the offered table", o.Name())
		}
	}
	for _, c := range offered {
		t.Run(c.name, func(t *testing.T) {
			objs := render(t, c)
			stored := apply(t, objs)
			kinds := map[string]int{}
			for _, o := range stored {
				kinds[o.GetKind()]++
				if o.GetUID() == "" {
					t.Errorf("%s %s was not stored", o.GetKind(), o.GetName())
				}
			}
			t.Logf("accepted %d objects in %v: %v", len(stored), manifests.Namespaces(stored), kinds)
			for _, comp := range c.components {
				kind := map[string]string{"hpa": "HorizontalPodAutoscaler", "keda": "ScaledObject", "servicemonitor": "ServiceMonitor"}[comp]
				if kinds[kind] != 1 {
					t.Errorf("component %s: %d %s stored, want 1", comp, kinds[kind], kind)
				}
			}
		})
	}
}

// TestPrometheusRule: deploy/prometheus/alerts.yaml wrapped in a
// PrometheusRule, as docs/deploy.md ("Alerts") tells Prometheus Operator
// users to do, is accepted by the PrometheusRule CRD.
func TestPrometheusRule(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(shared.root, "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []any `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(data, &rules); err != nil {
		t.Fatal(err)
	}
	if len(rules.Groups) == 0 {
		t.Fatal("alerts.yaml has no groups")
	}
	rule := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PrometheusRule",
		"metadata":   map[string]any{"name": "fraudscore", "namespace": "fraudscore-rules"},
		"spec":       map[string]any{"groups": rules.Groups},
	}}
	stored := apply(t, []*unstructured.Unstructured{rule})
	got, _, _ := unstructured.NestedSlice(stored[0].Object, "spec", "groups")
	if len(got) != len(rules.Groups) {
		t.Errorf("stored %d rule groups, want %d", len(got), len(rules.Groups))
	}
}

// TestForbiddenCombination: the API server itself accepts a
// HorizontalPodAutoscaler and a ScaledObject for the same Deployment (each
// object is valid alone; only KEDA's admission webhook, not run here, and
// our own check look at both). Our check is deploy/validate's
// TestAutoscalersExclusive, whose self-test renders exactly this
// combination and must detect it ("... is scaled by more than one
// autoscaler ...: use components/hpa or components/keda, never both").
func TestForbiddenCombination(t *testing.T) {
	stored := apply(t, render(t, forbidden))
	var by []string
	for _, o := range stored {
		name, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "name")
		if (o.GetKind() == "HorizontalPodAutoscaler" || o.GetKind() == "ScaledObject") && name == "fraudscore" {
			by = append(by, o.GetKind())
		}
	}
	slices.Sort(by)
	if !slices.Equal(by, []string{"HorizontalPodAutoscaler", "ScaledObject"}) {
		t.Fatalf("the API server stored %v for Deployment fraudscore, want both an HPA and a ScaledObject", by)
	}
	t.Logf("the API server accepted %v for one Deployment; our check must refuse it", by)

	cmd := exec.CommandContext(t.Context(), shared.goBin, "test", "-count=1", "-run", "^TestAutoscalersExclusive$", "-v", "./deploy/validate")
	cmd.Dir = shared.root
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestAutoscalersExclusive") {
		t.Fatalf("deploy/validate TestAutoscalersExclusive (our check of hpa+keda) did not pass: %v\n%s", err, out)
	}
}

// brokenCase is one file of testdata/broken: a deliberately broken copy of
// one rendered object.
type brokenCase struct {
	// Why says what is broken.
	Why string `json:"why"`
	// Combination names an entry of offered to render.
	Combination string `json:"combination"`
	// Object is "Kind/name" of the object to break.
	Object string `json:"object"`
	// Patch is an RFC 6902 JSON patch that breaks it.
	Patch []any `json:"patch"`
	// Refused lists what the API server's message must contain; empty when
	// the API server accepts the broken copy (Accepted says who catches it).
	Refused []string `json:"refused"`
	// Accepted, for a copy the API server stores, says what catches it.
	Accepted string `json:"accepted"`
}

// TestBrokenCopiesRefused: a manifest with an unknown field, a wrong type
// or a missing required field fails with the API server's own message; a
// ScaledObject trigger key KEDA does not know is stored by the API server
// (the CRD's trigger metadata is a free string map) and is caught by our own
// check, as the fixture says.
func TestBrokenCopiesRefused(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "broken", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/broken: %v", err)
	}
	if err := shared.client.EnsureNamespace(t.Context(), "fraudscore-broken"); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			var bc brokenCase
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.UnmarshalStrict(data, &bc); err != nil {
				t.Fatal(err)
			}
			if (len(bc.Refused) == 0) == (bc.Accepted == "") {
				t.Fatalf("%s: exactly one of refused and accepted", f)
			}
			i := slices.IndexFunc(offered, func(c combination) bool { return c.name == bc.Combination })
			if i < 0 {
				t.Fatalf("%s: unknown combination %q", f, bc.Combination)
			}
			var target *unstructured.Unstructured
			for _, o := range render(t, offered[i]) {
				if o.GetKind()+"/"+o.GetName() == bc.Object {
					target = o
				}
			}
			if target == nil {
				t.Fatalf("%s renders no %s", bc.Combination, bc.Object)
			}
			broken := breakCopy(t, target, bc.Patch)
			broken.SetNamespace("fraudscore-broken")
			stored, err := shared.client.Apply(t.Context(), []*unstructured.Unstructured{broken})
			if bc.Accepted != "" {
				if err != nil {
					t.Fatalf("the API server refused what the fixture says it accepts (%s): %v", bc.Accepted, err)
				}
				t.Logf("accepted by the API server (UID %s): %s", stored[0].GetUID(), bc.Accepted)
				return
			}
			var ae *manifests.ApplyError
			if !errors.As(err, &ae) {
				t.Fatalf("the API server accepted a broken %s (%s)", bc.Object, bc.Why)
			}
			code := "no HTTP status"
			var st apierrors.APIStatus
			if errors.As(err, &st) {
				code = fmt.Sprintf("HTTP %d %s", st.Status().Code, st.Status().Reason)
			}
			t.Logf("refused (%s): %v", code, err)
			for _, want := range bc.Refused {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the API server's message lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func breakCopy(t *testing.T, o *unstructured.Unstructured, patch []any) *unstructured.Unstructured {
	t.Helper()
	doc, err := json.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := json.Marshal(patch)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		t.Fatalf("patch %s: %v", ops, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}
