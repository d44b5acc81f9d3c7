package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/rules"
	"github.com/fraudscore/fraudscore/synthetic"
)

// backtestPolicy replays transactions through the model, the baseline and
// the candidate and prints the report.
func backtestPolicy(store *rules.Store, f *policyFlags, pos []string, stdin io.Reader, stdout io.Writer) error {
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
	} else if err := readLabelled(pos[1:], stdin, replay); err != nil {
		return err
	}
	return bt.Report().WriteText(stdout)
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
