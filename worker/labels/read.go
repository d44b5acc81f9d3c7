package labels

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/streamread"
)

// Decode decodes and validates a label received on subject: besides the
// contract (contracts.Validator.DecodeLabel), its source must be the
// subject's last token after prefix (fraud.labels.<source>), so a consumer
// of one source's subject sees only that source's labels. Errors are
// *contracts.ValidationError.
func Decode(v *contracts.Validator, prefix, subject string, data []byte, lb *contracts.Label) error {
	if err := v.DecodeLabel(data, lb); err != nil {
		return err
	}
	if tok, ok := strings.CutPrefix(subject, prefix); !ok || tok != lb.Source {
		return &contracts.ValidationError{Kind: contracts.KindInvalid, Problems: []contracts.Problem{
			{Path: "source", Message: "must be the last token of the subject (" + prefix + "<source>)"},
		}}
	}
	return nil
}

// ReadOptions say where Read finds labels and verdicts; zero fields take the
// defaults the worker uses.
type ReadOptions struct {
	// Stream is the labels stream (DefaultStream).
	Stream string
	// Prefix is the label subject prefix (contracts.SubjectLabelsPrefix).
	Prefix string
	// IndexBucket is the verdict index (DefaultIndexBucket).
	IndexBucket string
}

func (o ReadOptions) withDefaults() ReadOptions {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Prefix == "" {
		o.Prefix = contracts.SubjectLabelsPrefix
	}
	if o.IndexBucket == "" {
		o.IndexBucket = DefaultIndexBucket
	}
	return o
}

// Read rebuilds the confusion table from what the streams hold: every label
// stored in the labels stream when Read starts, in stream order, the first
// label of each transaction joined with its verdict in the index bucket
// (later ones counted as duplicates or contradictions, labels without an
// indexed verdict as unknown, labels that do not decode as dead letters).
// It reads with an ordered consumer and KV gets: no state is left on the
// server.
func Read(ctx context.Context, js jetstream.JetStream, o ReadOptions) (*Table, error) {
	o = o.withDefaults()
	stream, err := js.Stream(ctx, o.Stream)
	if err != nil {
		return nil, fmt.Errorf("labels: stream %s: %w", o.Stream, err)
	}
	kv, err := js.KeyValue(ctx, o.IndexBucket)
	if err != nil {
		return nil, fmt.Errorf("labels: bucket %s: %w", o.IndexBucket, err)
	}
	last := stream.CachedInfo().State.LastSeq
	t := NewTable()
	if last == 0 {
		return t, nil
	}
	v := contracts.NewValidator()
	seen := map[string]contracts.Outcome{}
	var lb contracts.Label
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{o.Prefix + ">"}}
	err = streamread.Stored(ctx, stream, cfg, last, func(msg jetstream.Msg, _ *jetstream.MsgMetadata) error {
		if err := Decode(v, o.Prefix, msg.Subject(), msg.Data(), &lb); err != nil {
			t.Results[ResultDeadLetter]++
			return nil
		}
		return t.join(ctx, kv, seen, &lb)
	})
	if err != nil {
		return nil, fmt.Errorf("labels: read %s: %w", o.Stream, err)
	}
	return t, nil
}

// join counts one decoded label read by Read.
func (t *Table) join(ctx context.Context, kv jetstream.KeyValue, seen map[string]contracts.Outcome, lb *contracts.Label) error {
	if prev, ok := seen[lb.TransactionID]; ok {
		r, _ := Second(State{Label: prev}, lb.Label, 1)
		t.Results[r]++
		return nil
	}
	ent, err := kv.Get(ctx, Key(lb.TransactionID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Results[ResultUnknown]++
		return nil
	}
	if err != nil {
		return fmt.Errorf("labels: index: %w", err)
	}
	e, err := ParseEntry(ent.Value())
	if err != nil {
		return err
	}
	seen[lb.TransactionID] = lb.Label
	t.Add(e, lb.Label)
	return nil
}
