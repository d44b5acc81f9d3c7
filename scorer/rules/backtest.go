package rules

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/fraudscore/fraudscore/contracts"
)

// Label is what a transaction turned out to be, when it is known.
type Label uint8

// Labels.
const (
	LabelUnknown Label = iota
	LabelFraud
	LabelLegit
)

// ParseLabel returns the label named s: "fraud", "legit" or "" (unknown).
func ParseLabel(s string) (Label, bool) {
	switch s {
	case "fraud":
		return LabelFraud, true
	case "legit":
		return LabelLegit, true
	case "":
		return LabelUnknown, true
	}
	return LabelUnknown, false
}

// Backtest replays transactions, each with the model's result and its
// label when known, through a candidate set beside a baseline (the set in
// use, or nil for the model alone), and counts per candidate rule and in
// total how many decisions the candidate would change and, with labels,
// how precise each rule and each policy is. Add the transactions, then
// read Report. It is not safe for concurrent use.
type Backtest struct {
	candidate, baseline *Set
	rep                 Report
}

// Report is a backtest's result.
type Report struct {
	// CandidateVersion and BaselineVersion name the sets ("" for the model
	// alone).
	CandidateVersion, BaselineVersion string
	// Transactions, and those labelled fraud and legit.
	Transactions, Fraud, Legit int
	// Changed counts the transactions whose candidate decision differs
	// from the baseline's.
	Changed int
	// Policies are the model alone, the baseline and the candidate.
	Policies [3]PolicyStats
	// Rules are the candidate's rules, in file order.
	Rules []RuleStats
}

// PolicyStats counts one policy's decisions.
type PolicyStats struct {
	Name string
	// Decisions by contracts.Decision index.
	Decisions [3]int
	// FlaggedFraud and FlaggedLegit are the labelled transactions it sent
	// to review or decline.
	FlaggedFraud, FlaggedLegit int
}

// RuleStats counts what one candidate rule decided.
type RuleStats struct {
	Rule Rule
	// Decided is how many transactions the rule decided in the candidate
	// set; Changed how many of those the baseline decided otherwise.
	Decided, Changed int
	// Fraud and Legit are the labelled transactions among Decided.
	Fraud, Legit int
}

// NewBacktest returns a backtest of candidate against baseline (nil: the
// model alone).
func NewBacktest(candidate, baseline *Set) *Backtest {
	b := &Backtest{candidate: candidate, baseline: baseline}
	b.rep.CandidateVersion = candidate.Version()
	if baseline != nil {
		b.rep.BaselineVersion = baseline.Version()
	}
	b.rep.Policies[0].Name = "model alone"
	b.rep.Policies[1].Name = "baseline " + b.rep.BaselineVersion
	if baseline == nil {
		b.rep.Policies[1].Name = "baseline: model alone"
	}
	b.rep.Policies[2].Name = "candidate " + b.rep.CandidateVersion
	for i := range candidate.Len() {
		b.rep.Rules = append(b.rep.Rules, RuleStats{Rule: candidate.Rule(i)})
	}
	return b
}

// Add replays one transaction: in holds the event and the model's result.
func (b *Backtest) Add(in *Input, label Label) {
	r := &b.rep
	r.Transactions++
	switch label {
	case LabelFraud:
		r.Fraud++
	case LabelLegit:
		r.Legit++
	}
	base := Outcome{Decision: in.Decision, Rule: -1}
	if b.baseline != nil {
		base = b.baseline.Evaluate(in, nil)
	}
	cand := b.candidate.Evaluate(in, nil)
	for i, d := range [3]contracts.Decision{in.Decision, base.Decision, cand.Decision} {
		p := &r.Policies[i]
		p.Decisions[d.Index()]++
		if d != contracts.DecisionApprove {
			switch label {
			case LabelFraud:
				p.FlaggedFraud++
			case LabelLegit:
				p.FlaggedLegit++
			}
		}
	}
	if cand.Decision != base.Decision {
		r.Changed++
	}
	if cand.Rule >= 0 {
		rs := &r.Rules[cand.Rule]
		rs.Decided++
		if cand.Decision != base.Decision {
			rs.Changed++
		}
		switch label {
		case LabelFraud:
			rs.Fraud++
		case LabelLegit:
			rs.Legit++
		}
	}
}

// Report returns the counts so far.
func (b *Backtest) Report() Report {
	r := b.rep
	r.Rules = append([]RuleStats(nil), b.rep.Rules...)
	return r
}

// Precision is the share of a rule's labelled decisions its action got
// right (fraud for review and decline, legit for allow); ok is false
// without labelled decisions or for approve, which never decides.
func (s RuleStats) Precision() (p float64, ok bool) {
	n := s.Fraud + s.Legit
	if n == 0 || s.Rule.Action == ActionApprove {
		return 0, false
	}
	if s.Rule.Action == ActionAllow {
		return float64(s.Legit) / float64(n), true
	}
	return float64(s.Fraud) / float64(n), true
}

// Recall is the share of all labelled fraud a review or decline rule
// decided (of all labelled legit transactions for an allow rule).
func (s RuleStats) Recall(fraud, legit int) (float64, bool) {
	switch {
	case s.Rule.Action == ActionAllow && legit > 0:
		return float64(s.Legit) / float64(legit), true
	case (s.Rule.Action == ActionReview || s.Rule.Action == ActionDecline) && fraud > 0:
		return float64(s.Fraud) / float64(fraud), true
	}
	return 0, false
}

// Precision is the share of fraud among the labelled transactions the
// policy flagged (review or decline).
func (p PolicyStats) Precision() (float64, bool) {
	n := p.FlaggedFraud + p.FlaggedLegit
	if n == 0 {
		return 0, false
	}
	return float64(p.FlaggedFraud) / float64(n), true
}

// Recall is the share of labelled fraud the policy flagged.
func (p PolicyStats) Recall(fraud int) (float64, bool) {
	if fraud == 0 {
		return 0, false
	}
	return float64(p.FlaggedFraud) / float64(fraud), true
}

func ratio(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// WriteText writes the report as two tables: per candidate rule, then per
// policy.
func (r Report) WriteText(w io.Writer) error {
	base := r.BaselineVersion
	if base == "" {
		base = "the model alone"
	}
	fmt.Fprintf(w, "candidate %s against %s: %d transactions (%d labelled fraud, %d legit), %d decisions would change\n\n",
		r.CandidateVersion, base, r.Transactions, r.Fraud, r.Legit, r.Changed)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "RULE\tACTION\tDECIDED\tCHANGED\tFRAUD\tLEGIT\tPRECISION\tRECALL\n")
	for _, s := range r.Rules {
		p, pok := s.Precision()
		rc, rok := s.Recall(r.Fraud, r.Legit)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", s.Rule.Name, s.Rule.Action, s.Decided, s.Changed,
			s.Fraud, s.Legit, ratio(p, pok), ratio(rc, rok))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "POLICY\tAPPROVE\tREVIEW\tDECLINE\tFLAGGED FRAUD\tFLAGGED LEGIT\tPRECISION\tRECALL\n")
	for _, p := range r.Policies {
		pr, pok := p.Precision()
		rc, rok := p.Recall(r.Fraud)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", p.Name, p.Decisions[0], p.Decisions[1], p.Decisions[2],
			p.FlaggedFraud, p.FlaggedLegit, ratio(pr, pok), ratio(rc, rok))
	}
	return tw.Flush()
}
