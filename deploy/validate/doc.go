// Package validate holds the deployment checks run by `go test ./deploy/...`:
// kustomize overlays rendered by kubectl and decoded strictly into the real
// Kubernetes API types (ScaledObject against KEDA's CRD schema), security
// assertions on the rendered workloads, the Dockerfile's final stage, the
// static binary in an empty root filesystem, promtool on the alert rules,
// every metric named by the alerts and the dashboard in a live worker's
// /metrics, and the JetStream definitions against worker.StreamConfigs.
//
// It has no non-test code; see the _test.go files and docs/deploy.md.
package validate
