// Package validate holds the deployment checks run by `go test ./deploy/...`:
// kustomize overlays rendered by kubectl and decoded strictly into the real
// Kubernetes API types (ScaledObject against KEDA's CRD schema), every
// overlay started for real (its rendered NATS configuration and storage
// limits in nats-servers, the worker with the rendered environment, ready
// with its streams created), security assertions on the rendered workloads,
// the Dockerfile's final stage, the static binary in an empty root
// filesystem, promtool on the alert rules (check and unit tests) and their
// runbook links, the PromQL parser on the alerts and the dashboard, every
// metric they name in a live worker's /metrics, and the JetStream
// definitions against worker.StreamConfigs.
//
// It has no non-test code; see the _test.go files and docs/deploy.md.
package validate
