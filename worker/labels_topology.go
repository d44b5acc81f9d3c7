package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LabelStreamConfig is the label stream: every label for the horizon
// (limits retention, so `fraudscore report` can read them all again), one
// per Nats-Msg-Id within the duplicate window, at most the worker's payload
// limit per label (a larger one is refused at publish; a label above the
// contract's own limit is dead-lettered as too_large).
func LabelStreamConfig(cfg *Config, lc *LabelConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        lc.Stream,
		Description: "fraudscore labels: the known outcome (fraud or legit) of transactions, kept for the label horizon",
		Subjects:    []string{lc.Prefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.StreamDupWindow,
		MaxAge:      lc.Horizon,
		MaxMsgSize:  int32(cfg.MaxPayload),
		Discard:     jetstream.DiscardOld,
	}
}

// LabelConsumerConfig is the durable consumer of the label stream shared by
// every replica. Deliveries are not bounded: a label waiting for its verdict
// is NAKed with LabelConfig.RetryDelay until LabelConfig.VerdictWait has
// passed since it was stored, then counted as unknown.
func LabelConsumerConfig(cfg *Config, lc *LabelConfig) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       lc.Consumer,
		Description:   "fraudscore workers: join labels with verdicts",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 1024,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      cfg.Replicas,
	}
}

// VerdictIndexConsumerConfig is the durable consumer of the verdict stream
// that fills the verdict index, shared by every replica. It starts at the
// first verdict the stream holds, so switching labels on indexes the
// verdicts already stored.
func VerdictIndexConsumerConfig(cfg *Config, lc *LabelConfig) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       lc.IndexConsumer,
		Description:   "fraudscore workers: index verdicts by transaction id for the label join",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: cfg.VerdictPrefix + ">",
		Replicas:      cfg.Replicas,
	}
}

// LabelBucketConfigs are the verdict index and the label state buckets:
// one value per key, kept for the horizon.
func LabelBucketConfigs(cfg *Config, lc *LabelConfig) []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{Bucket: lc.IndexBucket, Description: "fraudscore: transaction id -> its verdict's model version, rule and decision",
			History: 1, TTL: lc.Horizon, Storage: jetstream.FileStorage, Replicas: cfg.Replicas},
		{Bucket: lc.StateBucket, Description: "fraudscore: transaction id -> the first label joined",
			History: 1, TTL: lc.Horizon, Storage: jetstream.FileStorage, Replicas: cfg.Replicas},
	}
}

// labelTopology is what the label join works with.
type labelTopology struct {
	labels, index jetstream.Consumer
	indexKV       jetstream.KeyValue
	stateKV       jetstream.KeyValue
}

// ensureLabelTopology creates or updates (with EnsureTopology off: binds)
// the label stream, both buckets and both consumers; idempotent.
func ensureLabelTopology(ctx context.Context, js jetstream.JetStream, cfg *Config, lc *LabelConfig) (*labelTopology, error) {
	var t labelTopology
	var err error
	if cfg.EnsureTopology {
		sc := LabelStreamConfig(cfg, lc)
		kvs := LabelBucketConfigs(cfg, lc)
		// Every stream is checked before any is changed.
		if err := refuseBreakingUpdate(ctx, js, sc.Name, sc.Storage, "as every stream it creates"); err != nil {
			return nil, err
		}
		for _, kc := range kvs {
			if err := refuseBreakingBucketUpdate(ctx, js, kc, "as every stream it creates"); err != nil {
				return nil, err
			}
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("worker: ensure stream %s: %w", sc.Name, err)
		}
		if t.indexKV, err = js.CreateOrUpdateKeyValue(ctx, kvs[0]); err != nil {
			return nil, fmt.Errorf("worker: ensure bucket %s: %w", kvs[0].Bucket, err)
		}
		if t.stateKV, err = js.CreateOrUpdateKeyValue(ctx, kvs[1]); err != nil {
			return nil, fmt.Errorf("worker: ensure bucket %s: %w", kvs[1].Bucket, err)
		}
		if t.labels, err = js.CreateOrUpdateConsumer(ctx, lc.Stream, LabelConsumerConfig(cfg, lc)); err != nil {
			return nil, fmt.Errorf("worker: ensure consumer %s on %s: %w", lc.Consumer, lc.Stream, err)
		}
		if t.index, err = js.CreateOrUpdateConsumer(ctx, cfg.VerdictStream, VerdictIndexConsumerConfig(cfg, lc)); err != nil {
			return nil, fmt.Errorf("worker: ensure consumer %s on %s: %w", lc.IndexConsumer, cfg.VerdictStream, err)
		}
		return &t, nil
	}
	if t.indexKV, err = js.KeyValue(ctx, lc.IndexBucket); err != nil {
		return nil, fmt.Errorf("worker: bucket %s (topology is managed elsewhere): %w", lc.IndexBucket, err)
	}
	if t.stateKV, err = js.KeyValue(ctx, lc.StateBucket); err != nil {
		return nil, fmt.Errorf("worker: bucket %s (topology is managed elsewhere): %w", lc.StateBucket, err)
	}
	if t.labels, err = js.Consumer(ctx, lc.Stream, lc.Consumer); err != nil {
		return nil, fmt.Errorf("worker: bind consumer %s on %s: %w", lc.Consumer, lc.Stream, err)
	}
	if t.index, err = js.Consumer(ctx, cfg.VerdictStream, lc.IndexConsumer); err != nil {
		return nil, fmt.Errorf("worker: bind consumer %s on %s: %w", lc.IndexConsumer, cfg.VerdictStream, err)
	}
	return &t, nil
}
