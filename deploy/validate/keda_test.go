package validate

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// KEDA's ScaledObject CRD is read from the KEDA Go module (fetched through
// the Go module proxy into the module cache, not vendored here):
// github.com/kedacore/keda/v2@kedaVersion, config/crd/bases/keda.sh_scaledobjects.yaml
// (https://github.com/kedacore/keda/blob/v2.21.0/config/crd/bases/keda.sh_scaledobjects.yaml).
// The issue asks for KEDA 2.20 or later.
const (
	kedaModule  = "github.com/kedacore/keda/v2"
	kedaVersion = "v2.21.0"
	kedaCRDPath = "config/crd/bases/keda.sh_scaledobjects.yaml"
)

// natsJetStreamKeys are the trigger metadata keys of KEDA's nats-jetstream
// scaler (pkg/scalers/nats_jetstream_scaler.go, natsJetStreamMetadata, in the
// same KEDA version).
var natsJetStreamKeys = map[string]bool{
	"account": true, "accountID": true, "stream": true, "consumer": true, "lagThreshold": true,
	"activationLagThreshold": true, "useHttps": true, "natsServerMonitoringEndpoint": true,
}

var (
	kedaOnce   sync.Once
	kedaSchema *jsonschema.Schema
	kedaErr    error
)

func kedaCRDFile(t testing.TB) string {
	t.Helper()
	goBin := goTool()
	cmd := exec.Command(goBin, "mod", "download", "-json", kedaModule+"@"+kedaVersion)
	cmd.Dir = t.TempDir() // outside the module: go.mod and go.sum stay untouched
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		t.Fatalf("go mod download %s@%s (needs the module proxy or a warm module cache): %v %s", kedaModule, kedaVersion, err, info.Error)
	}
	return filepath.Join(info.Dir, kedaCRDPath)
}

// structural makes a CRD's structural schema closed the way the API server
// prunes it: objects with properties accept no other fields, unless they
// preserve unknown fields or declare additionalProperties.
func structural(s any, root bool) {
	switch v := s.(type) {
	case map[string]any:
		if props, ok := v["properties"].(map[string]any); ok {
			_, hasAP := v["additionalProperties"]
			preserve, _ := v["x-kubernetes-preserve-unknown-fields"].(bool)
			if !hasAP && !preserve {
				v["additionalProperties"] = false
			}
			for k, p := range props {
				if root && k == "metadata" {
					continue // ObjectMeta: validated by the API server itself
				}
				structural(p, false)
			}
		}
		for _, k := range []string{"items", "additionalProperties"} {
			if sub, ok := v[k].(map[string]any); ok {
				structural(sub, false)
			}
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			if list, ok := v[k].([]any); ok {
				for _, sub := range list {
					structural(sub, false)
				}
			}
		}
	}
}

func loadKEDASchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	kedaOnce.Do(func() {
		data, err := os.ReadFile(kedaCRDFile(t))
		if err != nil {
			kedaErr = err
			return
		}
		var crd struct {
			Spec struct {
				Versions []struct {
					Name   string
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			kedaErr = err
			return
		}
		var schema map[string]any
		for _, v := range crd.Spec.Versions {
			if v.Name == "v1alpha1" {
				schema = v.Schema.OpenAPIV3Schema
			}
		}
		if schema == nil {
			kedaErr = os.ErrNotExist
			return
		}
		structural(schema, true)
		c := jsonschema.NewCompiler()
		if err := c.AddResource("keda.sh_scaledobjects.json", schema); err != nil {
			kedaErr = err
			return
		}
		kedaSchema, kedaErr = c.Compile("keda.sh_scaledobjects.json")
	})
	if kedaErr != nil {
		t.Fatalf("KEDA ScaledObject CRD schema %s@%s: %v", kedaModule, kedaVersion, kedaErr)
	}
	return kedaSchema
}

func schemaValidate(t testing.TB, s *jsonschema.Schema, js []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(inst)
}

// validateScaledObject checks a rendered ScaledObject against KEDA's CRD
// schema and the nats-jetstream scaler's metadata keys.
func validateScaledObject(t *testing.T, o object) {
	t.Helper()
	if err := schemaValidate(t, loadKEDASchema(t), o.JSON); err != nil {
		t.Errorf("%s against KEDA %s CRD schema: %v", o, kedaVersion, err)
	}
	var so scaledObject
	if err := json.Unmarshal(o.JSON, &so); err != nil {
		t.Fatal(err)
	}
	for _, tr := range so.Spec.Triggers {
		if tr.Type != "nats-jetstream" {
			continue
		}
		for k := range tr.Metadata {
			if !natsJetStreamKeys[k] {
				t.Errorf("%s: nats-jetstream trigger: unknown metadata key %q", o, k)
			}
		}
	}
}

type scaledObject struct {
	Metadata struct{ Name, Namespace string }
	Spec     struct {
		ScaleTargetRef  struct{ APIVersion, Kind, Name string }
		MinReplicaCount *int32
		MaxReplicaCount *int32
		Advanced        struct {
			HorizontalPodAutoscalerConfig struct {
				Behavior json.RawMessage
			}
		}
		Triggers []struct {
			Type       string
			MetricType string
			Metadata   map[string]string
		}
	}
}

func TestKEDASchemaRejects(t *testing.T) {
	s := loadKEDASchema(t)
	good := `{"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"x"},"spec":{"scaleTargetRef":{"name":"x"},"triggers":[{"type":"cpu","metricType":"Utilization","metadata":{"value":"70"}}]}}`
	if err := schemaValidate(t, s, []byte(good)); err != nil {
		t.Fatalf("minimal ScaledObject rejected: %v", err)
	}
	for name, js := range map[string]string{
		"unknown spec field":  strings.Replace(good, `"triggers"`, `"minReplicas":1,"triggers"`, 1),
		"unknown in trigger":  strings.Replace(good, `"type":"cpu"`, `"type":"cpu","lag":1`, 1),
		"missing triggers":    `{"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"x"},"spec":{"scaleTargetRef":{"name":"x"}}}`,
		"behavior misspelled": strings.Replace(good, `"triggers"`, `"advanced":{"horizontalPodAutoscalerConfig":{"behaviour":{}}},"triggers"`, 1),
	} {
		if err := schemaValidate(t, s, []byte(js)); err == nil {
			t.Errorf("%s: accepted %s", name, js)
		}
	}
}

// lagThreshold returns the backlog trigger's threshold.
func lagThreshold(t *testing.T, so scaledObject) (int, map[string]string) {
	t.Helper()
	for _, tr := range so.Spec.Triggers {
		if tr.Type == "nats-jetstream" {
			n, err := strconv.Atoi(tr.Metadata["lagThreshold"])
			if err != nil {
				t.Fatalf("lagThreshold %q: %v", tr.Metadata["lagThreshold"], err)
			}
			return n, tr.Metadata
		}
	}
	t.Fatal("no nats-jetstream trigger")
	return 0, nil
}
