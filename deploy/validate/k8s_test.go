package validate

import (
	"fmt"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
)

// typed returns an empty value of the real API type for apiVersion/kind, or
// nil for kinds validated otherwise (custom resources) or unknown.
func typed(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "v1/Secret":
		return &corev1.Secret{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "rbac.authorization.k8s.io/v1/Role":
		return &rbacv1.Role{}
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		return &rbacv1.RoleBinding{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		// The Prometheus Operator's own Go API types.
		return &monitoringv1.ServiceMonitor{}
	}
	return nil
}

// strictDecode decodes js into v the way the API server's strict field
// validation does: case-sensitive names, unknown and duplicate fields are
// errors.
func strictDecode(js []byte, v any) error {
	strictErrs, err := kjson.UnmarshalStrict(js, v)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("strict decoding: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// decodeAll decodes every object of an overlay into its API type; custom
// resources other than those with Go types go to their CRD schema.
func decodeAll(t *testing.T, objs []object) map[string][]any {
	t.Helper()
	out := map[string][]any{}
	for _, o := range objs {
		if errs := validation.IsDNS1123Subdomain(o.Name); len(errs) > 0 {
			t.Errorf("%s: name: %v", o, errs)
		}
		if o.APIVersion == "keda.sh/v1alpha1" && o.Kind == "ScaledObject" {
			validateScaledObject(t, o)
			out[o.Kind] = append(out[o.Kind], o.Map)
			continue
		}
		v := typed(o.APIVersion, o.Kind)
		if v == nil {
			t.Errorf("%s: %s is not a kind this validation knows; add its API type to typed()", o, o.APIVersion)
			continue
		}
		if err := strictDecode(o.JSON, v); err != nil {
			t.Errorf("%s: %v", o, err)
			continue
		}
		out[o.Kind] = append(out[o.Kind], v)
	}
	return out
}

func TestOverlaysStrictAPITypes(t *testing.T) {
	ovs := overlays(t)
	for _, name := range sortedKeys(ovs) {
		t.Run(name, func(t *testing.T) {
			decodeAll(t, render(t, ovs[name]))
		})
	}
}

// TestStrictDecodeRejects proves that the decoder catches what it must.
func TestStrictDecodeRejects(t *testing.T) {
	for name, js := range map[string]string{
		"unknown field":   `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replica":2}}`,
		"wrong case":      `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"Replicas":2}}`,
		"duplicate field": `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":2,"replicas":3}}`,
		"wrong type":      `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":"2"}}`,
		"nested unknown":  `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"name":"a","securityContext":{"readOnlyRootFS":true}}]}}}}`,
	} {
		if err := strictDecode([]byte(js), typed("apps/v1", "Deployment")); err == nil {
			t.Errorf("%s: accepted %s", name, js)
		}
	}
}
