// Package e2e holds `make k8s-e2e`: its test runs the scaling decision chain
// of docs/deploy.md ("How scaling works") from the projects' own code, on one
// machine, without pods. In a private network namespace it starts etcd and
// kube-apiserver (package controlplane, with the aggregation layer), a
// nats-server with the worker's JetStream topology, KEDA's operator and
// metrics adapter built from the KEDA module, and kube-controller-manager's
// HPA, deployment and replicaset controllers; applies the prod overlay as
// changed by testdata/e2e; publishes a backlog that nothing consumes and
// checks each link: the HPA KEDA creates, the external metric the adapter
// serves through the API server against the consumer's real lag, and
// Deployment.spec.replicas rising to the count the docs' formula predicts,
// then falling back to the minimum once the backlog is purged.
package e2e
