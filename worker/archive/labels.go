package archive

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/labels"
	"github.com/fraudscore/fraudscore/worker/streamread"
)

// LabelOptions say where FirstLabels finds labels; zero fields take the
// defaults the worker uses.
type LabelOptions struct {
	// Stream is the labels stream (labels.DefaultStream).
	Stream string
	// Prefix is the label subject prefix (contracts.SubjectLabelsPrefix).
	Prefix string
}

// FirstLabels returns the first label stored for each transaction in the
// labels stream (the one the worker's join counts: later ones are
// duplicates or contradictions), read up to the last label stored when it
// starts. Labels that do not decode (labels.Decode) are skipped; they are
// dead-lettered by the worker. A missing stream is an error matching
// jetstream.ErrStreamNotFound.
func FirstLabels(ctx context.Context, js jetstream.JetStream, o LabelOptions) (map[string]contracts.Outcome, error) {
	if o.Stream == "" {
		o.Stream = labels.DefaultStream
	}
	if o.Prefix == "" {
		o.Prefix = contracts.SubjectLabelsPrefix
	}
	stream, err := js.Stream(ctx, o.Stream)
	if err != nil {
		return nil, fmt.Errorf("archive: labels stream %s: %w", o.Stream, err)
	}
	first := map[string]contracts.Outcome{}
	state := stream.CachedInfo().State
	if state.Msgs == 0 {
		return first, nil
	}
	v := contracts.NewValidator()
	var lb contracts.Label
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{o.Prefix + ">"}, DeliverPolicy: jetstream.DeliverAllPolicy,
		ReplayPolicy: jetstream.ReplayInstantPolicy}
	err = streamread.Stored(ctx, stream, cfg, state.LastSeq, func(msg jetstream.Msg, _ *jetstream.MsgMetadata) error {
		if labels.Decode(v, o.Prefix, msg.Subject(), msg.Data(), &lb) != nil {
			return nil
		}
		if _, ok := first[lb.TransactionID]; !ok {
			first[lb.TransactionID] = lb.Label
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: read labels %s: %w", o.Stream, err)
	}
	return first, nil
}
