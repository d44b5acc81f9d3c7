// Package crds names the CustomResourceDefinitions the manifests and the
// add-ons need, in their projects' own Go modules: each module is fetched
// through the Go module proxy into the module cache and checked against the
// go.sum checksum pinned here (the same as sum.golang.org records).
package crds

// KEDA: the version deploy/validate checks the ScaledObject against, and
// the one `make k8s-e2e` builds the operator and metrics adapter from.
const (
	KEDAModule  = "github.com/kedacore/keda/v2"
	KEDAVersion = "v2.21.0"
	KEDASum     = "h1:R6z2HZvstK4RLUMxroNACzBj74xGxt3kG59b5Xc+Xps="
)

// Prometheus Operator: the main module's Go types are
// .../pkg/apis/monitoring v0.95.2, a module without the CRD YAML; the root
// module, which has it under example/prometheus-operator-crd, is served by
// the module proxy only at v0.85.0, so that is the CRD version installed.
const (
	PromModule  = "github.com/prometheus-operator/prometheus-operator"
	PromVersion = "v0.85.0"
	PromSum     = "h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s="
)

// File is one CRD file inside a module.
type File struct {
	Module, Version, Sum string
	// Path is the file's path inside the module.
	Path string
}

// ScaledObject is KEDA's ScaledObject CRD.
func ScaledObject() File {
	return File{KEDAModule, KEDAVersion, KEDASum, "config/crd/bases/keda.sh_scaledobjects.yaml"}
}

// Monitoring is the Prometheus Operator's ServiceMonitor and PrometheusRule.
func Monitoring() []File {
	return []File{
		{PromModule, PromVersion, PromSum, "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"},
		{PromModule, PromVersion, PromSum, "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"},
	}
}

// KEDA is every CRD KEDA's operator watches (its controllers stop on a
// missing one): ScaledObject, ScaledJob, TriggerAuthentication,
// ClusterTriggerAuthentication, CloudEventSource, ClusterCloudEventSource.
func KEDA() []File {
	var out []File
	for _, f := range []string{
		"keda.sh_scaledobjects.yaml",
		"keda.sh_scaledjobs.yaml",
		"keda.sh_triggerauthentications.yaml",
		"keda.sh_clustertriggerauthentications.yaml",
		"eventing.keda.sh_cloudeventsources.yaml",
		"eventing.keda.sh_clustercloudeventsources.yaml",
	} {
		out = append(out, File{KEDAModule, KEDAVersion, KEDASum, "config/crd/bases/" + f})
	}
	return out
}
