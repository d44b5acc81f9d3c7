package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// AdvisorySubject returns the subject of the max-deliveries advisories of a
// stream's consumer.
func AdvisorySubject(stream, consumer string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + consumer
}

// StreamConfigs returns the four streams the worker needs: transactions
// (work queue), verdicts (limits, de-duplicated by transaction id), dead
// letters, and the captured max-deliveries advisories; with Archive on, a
// fifth: the archive of scored transactions (ArchiveStreamConfig).
func StreamConfigs(cfg *Config) []jetstream.StreamConfig {
	scs := []jetstream.StreamConfig{
		{
			Name:        cfg.Stream,
			Description: "fraudscore input: transaction events, removed once scored",
			Subjects:    []string{cfg.Subjects},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.StreamDupWindow,
			MaxAge:      cfg.StreamMaxAge,
			MaxMsgSize:  int32(cfg.MaxPayload),
			Discard:     jetstream.DiscardNew,
		},
		{
			Name:        cfg.VerdictStream,
			Description: "fraudscore output: one verdict per transaction id",
			Subjects:    []string{cfg.VerdictPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.VerdictDupWindow,
			MaxAge:      cfg.VerdictMaxAge,
			MaxBytes:    cfg.VerdictMaxBytes,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        cfg.DLQStream,
			Description: "fraudscore dead letters: inputs that could not be scored, with the reason in headers",
			Subjects:    []string{cfg.DLQPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  time.Hour,
			MaxAge:      cfg.DLQMaxAge,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        cfg.AdvisoryStream,
			Description: "max-deliveries advisories of the fraudscore consumer, moved to dead letters by the workers",
			Subjects:    []string{AdvisorySubject(cfg.Stream, cfg.Consumer)},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			MaxAge:      cfg.DLQMaxAge,
		},
	}
	if cfg.Archive {
		scs = append(scs, ArchiveStreamConfig(cfg))
	}
	return scs
}

// ArchiveStreamConfig is the archive of scored transactions (ADR 0021):
// limits retention for ArchiveMaxAge, de-duplicated by transaction id over
// the verdicts' window, which outlasts any redelivery (Config.Problems), so
// a redelivered transaction is stored once.
func ArchiveStreamConfig(cfg *Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.ArchiveStream,
		Description: "fraudscore archive: a copy of each scored transaction, for backtests",
		Subjects:    []string{cfg.ArchivePrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.VerdictDupWindow,
		MaxAge:      cfg.ArchiveMaxAge,
		MaxMsgSize:  int32(cfg.MaxPayload),
		Discard:     jetstream.DiscardOld,
	}
}

// ConsumerConfig is the durable pull consumer shared by every replica.
func ConsumerConfig(cfg *Config) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       cfg.Consumer,
		Description:   "fraudscore workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
		BackOff:       cfg.BackOff,
		MaxAckPending: cfg.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      cfg.Replicas,
	}
}

// AdvisoryConsumerConfig is the durable consumer of the advisory stream.
func AdvisoryConsumerConfig(cfg *Config) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       cfg.AdvisoryConsumr,
		Description:   "fraudscore workers: move max-delivered transactions to dead letters",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		BackOff:       nil,
		MaxAckPending: 64,
		Replicas:      cfg.Replicas,
	}
}

// refuseBreakingUpdate returns an ErrConfig error when the worker must not
// update the existing stream name (FRAUDSCORE_ENSURE_TOPOLOGY=true): a
// mirror of another stream, which an update without the mirror would
// promote to an origin cut off from its source; or a stream whose storage
// is not want, which the server cannot change (a stream's storage is fixed
// when it is created). why says where want comes from, for the message. A
// stream that does not exist yet passes; one whose state cannot be read
// returns that error (the caller's retry decides).
func refuseBreakingUpdate(ctx context.Context, js jetstream.JetStream, name string, want jetstream.StorageType, why string) error {
	st, err := js.Stream(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("worker: stream %s: %w", name, err)
	}
	old := st.CachedInfo().Config
	if old.Mirror != nil {
		return fmt.Errorf("worker: stream %s mirrors %s, and the worker's update would make it an origin cut off from its source: let the worker use the origin, or set FRAUDSCORE_ENSURE_TOPOLOGY=false: %w",
			name, old.Mirror.Name, ErrConfig)
	}
	if old.Storage != want {
		return fmt.Errorf("worker: stream %s has %s storage and the worker's is %s (%s); a stream's storage is fixed when it is created, so ops must delete the stream (losing what it holds) or the worker must use another (and be allowed to: deploy/security): %w",
			name, strings.ToLower(old.Storage.String()), strings.ToLower(want.String()), why, ErrConfig)
	}
	return nil
}

// refuseBreakingBucketUpdate is refuseBreakingUpdate for the stream of
// the KV bucket kc.
func refuseBreakingBucketUpdate(ctx context.Context, js jetstream.JetStream, kc jetstream.KeyValueConfig, why string) error {
	return refuseBreakingUpdate(ctx, js, bucketStream(kc.Bucket), kc.Storage, why)
}

// bucketStream is the name of the stream that holds KV bucket bucket (the
// KV client's convention).
func bucketStream(bucket string) string { return "KV_" + bucket }

// EnsureTopology creates or updates the streams and consumers; it is
// idempotent. With EnsureTopology off it only checks that they exist. It
// refuses to update a stream that mirrors another or has other storage
// (refuseBreakingUpdate).
func EnsureTopology(ctx context.Context, js jetstream.JetStream, cfg *Config) (main, advisory jetstream.Consumer, err error) {
	if cfg.EnsureTopology {
		// Every stream is checked before any is changed.
		for _, sc := range StreamConfigs(cfg) {
			if err := refuseBreakingUpdate(ctx, js, sc.Name, sc.Storage, "as every stream it creates"); err != nil {
				return nil, nil, err
			}
		}
		for _, sc := range StreamConfigs(cfg) {
			if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
				return nil, nil, fmt.Errorf("worker: ensure stream %s: %w", sc.Name, err)
			}
		}
		if main, err = js.CreateOrUpdateConsumer(ctx, cfg.Stream, ConsumerConfig(cfg)); err != nil {
			return nil, nil, fmt.Errorf("worker: ensure consumer %s on %s: %w", cfg.Consumer, cfg.Stream, err)
		}
		if advisory, err = js.CreateOrUpdateConsumer(ctx, cfg.AdvisoryStream, AdvisoryConsumerConfig(cfg)); err != nil {
			return nil, nil, fmt.Errorf("worker: ensure consumer %s on %s: %w", cfg.AdvisoryConsumr, cfg.AdvisoryStream, err)
		}
		return main, advisory, nil
	}
	names := []string{cfg.VerdictStream, cfg.DLQStream}
	if cfg.Archive {
		names = append(names, cfg.ArchiveStream)
	}
	for _, name := range names {
		if _, err := js.Stream(ctx, name); err != nil {
			return nil, nil, fmt.Errorf("worker: stream %s (topology is managed elsewhere): %w", name, err)
		}
	}
	if main, err = js.Consumer(ctx, cfg.Stream, cfg.Consumer); err != nil {
		return nil, nil, fmt.Errorf("worker: bind consumer %s on %s: %w", cfg.Consumer, cfg.Stream, err)
	}
	if advisory, err = js.Consumer(ctx, cfg.AdvisoryStream, cfg.AdvisoryConsumr); err != nil {
		return nil, nil, fmt.Errorf("worker: bind consumer %s on %s: %w", cfg.AdvisoryConsumr, cfg.AdvisoryStream, err)
	}
	return main, advisory, nil
}
