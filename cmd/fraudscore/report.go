package main

import (
	"context"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/labels"
)

const reportSummary = `Print the realised quality of each model version and analyst rule from the labels stored so far:
per model version (rule "(all)") and per deciding rule within it ("model" when no rule changed the
model's decision) the labelled decisions, the fraud labels among them, true positives (review or
decline, labelled fraud), false positives (review or decline, labelled legit), false negatives
(approve, labelled fraud), precision, recall and the review and decline rates; then what became of
the labels read (joined, unknown transaction, duplicate, contradictory, undecodable).

Reads every label of the label stream in order, the first label of each transaction joined with its
verdict in the verdict index the workers fill (FRAUDSCORE_LABELS=true; docs/labels.md): the same
join as fraudscore_labelled_decisions_total. A label whose verdict is not indexed (yet) counts as
unknown. Read-only: an ordered consumer and KV gets. The connection flags default to the worker's
FRAUDSCORE_NATS_* variables.`

// reportCommand runs `fraudscore report`.
func reportCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("report", "", reportSummary, 0, 0)
	conn := connectionFlags(c)
	lc := worker.DefaultLabelConfig()
	stringFlag(c, "stream", "LABEL_STREAM", &lc.Stream, "label stream")
	stringFlag(c, "prefix", "LABEL_PREFIX", &lc.Prefix, "label subject prefix")
	stringFlag(c, "index", "VERDICT_INDEX_BUCKET", &lc.IndexBucket, "verdict index bucket")
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	if err := conn.Validate(); err != nil {
		return c.usageError(stderr, err.Error())
	}
	return c.exit(stderr, runReport(ctx, conn, labels.ReadOptions{Stream: lc.Stream, Prefix: lc.Prefix, IndexBucket: lc.IndexBucket}, stdout, stderr))
}

func runReport(ctx context.Context, conn *worker.Config, o labels.ReadOptions, stdout, stderr io.Writer) error {
	nc, err := worker.Connect(conn, "fraudscore-report", toolLogger(stderr), nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	t, err := labels.Read(ctx, js, o)
	if err != nil {
		return connError(nc, err)
	}
	return t.WriteText(stdout)
}
