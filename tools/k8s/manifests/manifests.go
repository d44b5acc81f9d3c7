// Package manifests renders kustomize directories with kubectl and
// server-side applies the objects, and the CustomResourceDefinitions they
// need, to a Kubernetes API server.
package manifests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// FieldManager is the server-side apply field manager of every apply.
const FieldManager = "fraudscore-k8s-verify"

// ErrManifests prefixes every error of this package.
var ErrManifests = errors.New("manifests")

// Render runs `kubectl kustomize dir` and returns the objects it prints.
func Render(ctx context.Context, kubectl, dir string) ([]*unstructured.Unstructured, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, kubectl, "kustomize", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: kubectl kustomize %s: %w: %s", ErrManifests, dir, err, strings.TrimSpace(stderr.String()))
	}
	return Decode(stdout.Bytes())
}

// Decode splits a multi-document YAML (or JSON) stream into objects.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%w: decode: %w", ErrManifests, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// Client applies objects to one API server.
type Client struct {
	core    kubernetes.Interface
	ext     apiextensionsclient.Interface
	dynamic dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
}

// NewClient connects to the API server of cfg.
func NewClient(cfg *rest.Config) (*Client, error) {
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifests, err)
	}
	ext, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifests, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifests, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifests, err)
	}
	return &Client{core: core, ext: ext, dynamic: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}, nil
}

// EnsureNamespace creates the namespace unless it exists.
func (c *Client) EnsureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.core.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%w: namespace %s: %w", ErrManifests, name, err)
	}
	return nil
}

// InstallCRDs creates (server-side applies) the CustomResourceDefinitions in
// the YAML files and waits until the API server serves each of them.
func (c *Client) InstallCRDs(ctx context.Context, files ...string) error {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrManifests, err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			return fmt.Errorf("%w: CRD %s: %w", ErrManifests, f, err)
		}
		js, err := yaml.YAMLToJSON(data)
		if err != nil {
			return fmt.Errorf("%w: CRD %s: %w", ErrManifests, f, err)
		}
		force := true
		if _, err := c.ext.ApiextensionsV1().CustomResourceDefinitions().Patch(ctx, crd.Name, types.ApplyPatchType, js,
			metav1.PatchOptions{FieldManager: FieldManager, Force: &force, FieldValidation: "Strict"}); err != nil {
			return fmt.Errorf("%w: CRD %s: %w", ErrManifests, crd.Name, err)
		}
		if err := c.waitEstablished(ctx, crd.Name); err != nil {
			return err
		}
	}
	c.mapper.Reset()
	return nil
}

func (c *Client) waitEstablished(ctx context.Context, name string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		crd, err := c.ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: CRD %s not established: %w", ErrManifests, name, ctx.Err())
		case <-tick.C:
		}
	}
}

// ApplyError is the API server's refusal of one object.
type ApplyError struct {
	// Object names the refused object: "Kind namespace/name".
	Object string
	// Err is the API server's answer (an *apierrors.StatusError when the
	// server answered).
	Err error
}

func (e *ApplyError) Error() string { return e.Object + ": " + e.Err.Error() }
func (e *ApplyError) Unwrap() error { return e.Err }

// Apply server-side applies every object (field manager FieldManager,
// conflicts forced, unknown fields refused) and returns what the server
// stored. It stops at the first refusal, an *ApplyError.
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		id := fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		gvk := o.GroupVersionKind()
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return out, &ApplyError{Object: id, Err: err}
		}
		js, err := json.Marshal(o.Object)
		if err != nil {
			return out, &ApplyError{Object: id, Err: err}
		}
		var ri dynamic.ResourceInterface = c.dynamic.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = c.dynamic.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		force := true
		got, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, js,
			metav1.PatchOptions{FieldManager: FieldManager, Force: &force, FieldValidation: "Strict"})
		if err != nil {
			return out, &ApplyError{Object: id, Err: err}
		}
		out = append(out, got)
	}
	return out, nil
}

// Namespaces lists the namespaces the objects name, in order of appearance.
func Namespaces(objs []*unstructured.Unstructured) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out
}

// ModuleFile returns the path of file inside the Go module mod@version in
// the module cache, downloading it through the module proxy if needed, after
// checking the module's checksum (go.sum's h1: form) against sum.
func ModuleFile(ctx context.Context, goBin, mod, version, sum, file string) (string, error) {
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", mod+"@"+version)
	cmd.Dir = os.TempDir() // outside any module: no go.mod is touched
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.Output()
	var info struct{ Dir, Sum, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		return "", fmt.Errorf("%w: go mod download %s@%s: %v %s", ErrManifests, mod, version, err, info.Error)
	}
	if info.Sum != sum {
		return "", fmt.Errorf("%w: %s@%s has checksum %s, want %s", ErrManifests, mod, version, info.Sum, sum)
	}
	return filepath.Join(info.Dir, filepath.FromSlash(file)), nil
}
