package labels

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/fraudscore/fraudscore/contracts"
)

// Cell is one combination of the labelled-decision counts, the labels of
// fraudscore_labelled_decisions_total.
type Cell struct {
	ModelVersion string
	Rule         string
	Decision     contracts.Decision
	Label        contracts.Outcome
}

// Table holds realised confusion counts (labelled decisions) and what
// became of every label read.
type Table struct {
	// Counts is labelled decisions per cell.
	Counts map[Cell]int64
	// Results counts labels by what became of them.
	Results map[Result]int64
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{Counts: map[Cell]int64{}, Results: map[Result]int64{}}
}

// Add counts one joined label.
func (t *Table) Add(e Entry, label contracts.Outcome) {
	t.Counts[Cell{ModelVersion: e.ModelVersion, Rule: e.Rule, Decision: e.Decision, Label: label}]++
	t.Results[ResultJoined]++
}

// Row is the summary of one model version, or of one rule within it.
type Row struct {
	ModelVersion string
	// Rule is "" for the model version's row (every decision), else a rule
	// name or RuleModel.
	Rule string
	// Labelled is the number of labelled decisions.
	Labelled int64
	// TP: flagged (review or decline) and fraud; FP: flagged and legit;
	// FN: approved and fraud; TN: approved and legit.
	TP, FP, FN, TN int64
	// Review and Decline are the labelled decisions of each kind.
	Review, Decline int64
}

// Precision is TP/(TP+FP), NaN without a flagged decision.
func (r Row) Precision() float64 { return ratio(r.TP, r.TP+r.FP) }

// Recall is TP/(TP+FN), NaN without a fraud label.
func (r Row) Recall() float64 { return ratio(r.TP, r.TP+r.FN) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func (r *Row) add(c Cell, n int64) {
	r.Labelled += n
	flagged := c.Decision != contracts.DecisionApprove
	fraud := c.Label == contracts.OutcomeFraud
	switch {
	case flagged && fraud:
		r.TP += n
	case flagged:
		r.FP += n
	case fraud:
		r.FN += n
	default:
		r.TN += n
	}
	switch c.Decision {
	case contracts.DecisionReview:
		r.Review += n
	case contracts.DecisionDecline:
		r.Decline += n
	}
}

// Rows returns one row per model version (Rule "") followed by one per rule
// that decided within it, model versions and rules in name order (RuleModel
// first).
func (t *Table) Rows() []Row {
	type key struct{ model, rule string }
	rows := map[key]*Row{}
	get := func(k key) *Row {
		r := rows[k]
		if r == nil {
			r = &Row{ModelVersion: k.model, Rule: k.rule}
			rows[k] = r
		}
		return r
	}
	for c, n := range t.Counts {
		get(key{c.ModelVersion, ""}).add(c, n)
		get(key{c.ModelVersion, c.Rule}).add(c, n)
	}
	keys := slices.SortedFunc(maps.Keys(rows), func(a, b key) int {
		if c := cmp.Compare(a.model, b.model); c != 0 {
			return c
		}
		return cmp.Compare(ruleOrder(a.rule), ruleOrder(b.rule))
	})
	out := make([]Row, 0, len(keys))
	for _, k := range keys {
		out = append(out, *rows[k])
	}
	return out
}

// ruleOrder sorts the version row first, then the model's own decisions,
// then rules by name.
func ruleOrder(rule string) string {
	switch rule {
	case "":
		return "\x00"
	case RuleModel:
		return "\x01"
	}
	return rule
}

// WriteText prints the table: per model version and per rule, the labelled
// decisions, true and false positives, false negatives, precision, recall
// and the review and decline rates; then what became of the labels.
func (t *Table) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model_version\trule\tlabelled\tfraud\tTP\tFP\tFN\tprecision\trecall\treview\tdecline\t")
	for _, r := range t.Rows() {
		rule := r.Rule
		if rule == "" {
			rule = "(all)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", r.ModelVersion, rule, r.Labelled, r.TP+r.FN,
			r.TP, r.FP, r.FN, pct(r.Precision()), pct(r.Recall()),
			pct(ratio(r.Review, r.Labelled)), pct(ratio(r.Decline, r.Labelled)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var total int64
	for _, n := range t.Results {
		total += n
	}
	_, err := fmt.Fprintf(w, "labels: %d read, %d joined, %d unknown transaction, %d duplicate, %d contradictory, %d undecodable\n",
		total, t.Results[ResultJoined], t.Results[ResultUnknown], t.Results[ResultDuplicate],
		t.Results[ResultContradictory], t.Results[ResultDeadLetter])
	return err
}

func pct(f float64) string {
	if f != f {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*f)
}
