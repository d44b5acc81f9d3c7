// Package worker is fraudscore's NATS side: it ensures the JetStream
// topology, consumes transactions from a durable pull consumer shared by all
// replicas, scores them through a Scorer, publishes each verdict with the
// transaction id as its Nats-Msg-Id and acks the input only after the verdict
// is stored, dead-letters what cannot be scored, answers request-reply
// through a nats.go micro service, and exposes metrics and health.
//
// It knows nothing of trees or features: scoring is behind the Scorer
// interface.
package worker
