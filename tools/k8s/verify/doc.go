// Package verify holds `make k8s-verify`: its tests start a real
// kube-apiserver and etcd in-process (package controlplane), install the
// CustomResourceDefinitions the manifests use from their own Go modules
// (KEDA's ScaledObject, the Prometheus Operator's ServiceMonitor and
// PrometheusRule), and server-side apply every overlay and every component
// combination docs/deploy.md offers. Deliberately broken copies
// (testdata/broken) must fail with the API server's own message.
package verify
