package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// needTool returns the path of a required external tool or fails the test
// with what to install: these checks must not silently pass in CI.
func needTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH: install it (Debian package %q); deploy validation cannot run without it", name, pkg)
	}
	return p
}

// object is one rendered manifest: its JSON form and identifying fields.
type object struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	JSON       []byte
	Map        map[string]any
}

func (o object) String() string { return fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name) }

var (
	renderMu    sync.Mutex
	renderCache = map[string][]object{}
)

// render runs `kubectl kustomize dir` and splits the output into objects.
func render(t testing.TB, dir string) []object {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if objs, ok := renderCache[dir]; ok {
		return objs
	}
	kubectl := needTool(t, "kubectl", "kubectl")
	cmd := exec.Command(kubectl, "kustomize", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	objs, err := splitYAML(out)
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	if len(objs) == 0 {
		t.Fatalf("kubectl kustomize %s rendered nothing", dir)
	}
	renderCache[dir] = objs
	return objs
}

func splitYAML(data []byte) ([]object, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var objs []object
	for {
		var node yamlv3.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		doc, err := yamlv3.Marshal(&node)
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(objs)+1, err)
		}
		if string(js) == "null" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal(js, &m); err != nil {
			return nil, err
		}
		o := object{JSON: js, Map: m}
		o.APIVersion, _ = m["apiVersion"].(string)
		o.Kind, _ = m["kind"].(string)
		if md, ok := m["metadata"].(map[string]any); ok {
			o.Name, _ = md["name"].(string)
			o.Namespace, _ = md["namespace"].(string)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// overlays lists kustomize/overlays/* (every overlay is validated, including
// ones added later).
func overlays(t testing.TB) map[string]string {
	t.Helper()
	root := testenv.RepoRoot(t)
	entries, err := os.ReadDir(filepath.Join(root, "kustomize", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()] = filepath.Join(root, "kustomize", "overlays", e.Name())
		}
	}
	for _, want := range []string{"dev", "prod"} {
		if _, ok := out[want]; !ok {
			t.Fatalf("overlay %s is missing", want)
		}
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func find(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func TestOverlaysRender(t *testing.T) {
	ovs := overlays(t)
	for _, name := range sortedKeys(ovs) {
		t.Run(name, func(t *testing.T) {
			objs := render(t, ovs[name])
			seen := map[string]bool{}
			for _, o := range objs {
				if o.APIVersion == "" || o.Kind == "" || o.Name == "" {
					t.Errorf("object without apiVersion, kind or name: %s", strings.TrimSpace(string(o.JSON)))
				}
				key := o.APIVersion + "/" + o.String()
				if seen[key] {
					t.Errorf("duplicate object %s", key)
				}
				seen[key] = true
			}
			if len(find(objs, "Deployment")) != 1 {
				t.Errorf("want exactly one Deployment, got %d", len(find(objs, "Deployment")))
			}
		})
	}
}
