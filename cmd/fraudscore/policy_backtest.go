package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/rules"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/archive"
)

// backtestPolicy replays transactions through the model, the baseline and
// the candidate and prints the report.
func backtestPolicy(ctx context.Context, store *rules.Store, f *policyFlags, pos []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cand, err := loadPolicy(store, pos[0])
	if err != nil {
		return fmt.Errorf("candidate: %w", err)
	}
	var base *rules.Set
	switch f.baseline {
	case "none":
	case "":
		if _, err := store.Latest(); err == nil {
			if base, err = store.LoadLatest(); err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
		}
	default:
		if base, err = loadPolicy(store, f.baseline); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	ps, err := newPolicyScorer(f.models)
	if err != nil {
		return err
	}
	bt := rules.NewBacktest(cand, base)
	var in rules.Input
	replay := func(ev *contracts.TransactionEvent, l rules.Label) error {
		if err := ps.score(ev, &in); err != nil {
			return fmt.Errorf("%s: %w", ev.TransactionID, err)
		}
		bt.Add(&in, l)
		return nil
	}
	if f.synthetic > 0 {
		g := synthetic.New(synthetic.Config{Seed: f.seed, FraudRate: f.fraudRate})
		for range f.synthetic {
			ev, lbl := g.Next()
			l := rules.LabelLegit
			if lbl.Fraud {
				l = rules.LabelFraud
			}
			if err := replay(&ev, l); err != nil {
				return err
			}
		}
	} else if f.fromStream {
		if err := replayArchive(ctx, f, stderr, replay); err != nil {
			return err
		}
	} else if err := readLabelled(pos[1:], stdin, replay); err != nil {
		return err
	}
	return bt.Report().WriteText(stdout)
}

// replayArchive hands the archived transactions f selects to replay, each
// with the first label of its transaction when the label stream has one.
func replayArchive(ctx context.Context, f *policyFlags, stderr io.Writer, replay func(*contracts.TransactionEvent, rules.Label) error) error {
	nc, err := worker.Connect(f.conn, "fraudscore-policy-backtest", toolLogger(stderr), nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	first, err := archive.FirstLabels(ctx, js, archive.LabelOptions{Stream: f.labels.Stream, Prefix: f.labels.Prefix})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		fmt.Fprintf(stderr, "no label stream %s: every transaction is unlabelled\n", f.labels.Stream)
	} else if err != nil {
		return connError(nc, err)
	}
	o := archive.Options{Stream: f.conn.ArchiveStream, Prefix: f.conn.ArchivePrefix, Last: f.last}
	if f.since > 0 {
		o.Since = time.Now().Add(-f.since)
	}
	labelled := 0
	st, err := archive.Read(ctx, js, o, func(_ archive.Meta, ev *contracts.TransactionEvent) error {
		l := rules.LabelUnknown
		switch first[ev.TransactionID] {
		case contracts.OutcomeFraud:
			l = rules.LabelFraud
		case contracts.OutcomeLegit:
			l = rules.LabelLegit
		}
		if l != rules.LabelUnknown {
			labelled++
		}
		return replay(ev, l)
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w (the workers store it with FRAUDSCORE_ARCHIVE=true)", err)
	}
	if err != nil {
		return connError(nc, err)
	}
	fmt.Fprintf(stderr, "%d archived transactions from %s (%d labelled, %d undecodable skipped)\n",
		st.Events, f.conn.ArchiveStream, labelled, st.Undecodable)
	return nil
}

// labelledLine is a line of backtest input that carries its label.
type labelledLine struct {
	Event json.RawMessage `json:"event"`
	Label string          `json:"label"`
}

// readLabelled reads NDJSON from the file named in pos (stdin without one
// or for "-"): each line an event, or an event with its label.
func readLabelled(pos []string, stdin io.Reader, f func(*contracts.TransactionEvent, rules.Label) error) error {
	in := stdin
	if len(pos) == 1 && pos[0] != "-" {
		file, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer file.Close()
		in = file
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 2*contracts.DefaultMaxEventBytes)
	v := contracts.NewValidator()
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		raw, label := line, rules.LabelUnknown
		var ll labelledLine
		if json.Unmarshal(line, &ll) == nil && ll.Event != nil {
			var ok bool
			if label, ok = rules.ParseLabel(ll.Label); !ok {
				return fmt.Errorf("line %d: label %q (want fraud, legit or none)", n, ll.Label)
			}
			raw = ll.Event
		}
		var ev contracts.TransactionEvent
		if err := v.DecodeEvent(raw, &ev); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if err := f(&ev, label); err != nil {
			return err
		}
	}
	return sc.Err()
}
