package rules

import (
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"

	"github.com/fraudscore/fraudscore/contracts"
)

// Action is what a rule does when it matches.
type Action uint8

// Actions, in the order of their YAML names.
const (
	// ActionApprove never changes a decision (only allow lowers one); it is
	// accepted for documentation and backtests.
	ActionApprove Action = iota
	// ActionReview raises an approve to review.
	ActionReview
	// ActionDecline raises the decision to decline.
	ActionDecline
	// ActionAllow approves whatever the model decided (an allow list).
	ActionAllow
)

var actionNames = [...]string{"approve", "review", "decline", "allow"}

// String is the action's YAML name.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Decision is the decision the action leads to when it decides.
func (a Action) Decision() contracts.Decision {
	switch a {
	case ActionReview:
		return contracts.DecisionReview
	case ActionDecline:
		return contracts.DecisionDecline
	}
	return contracts.DecisionApprove
}

// parseAction returns the action named s.
func parseAction(s string) (Action, bool) {
	for i, n := range actionNames {
		if n == s {
			return Action(i), true
		}
	}
	return 0, false
}

// Rule describes one rule of a loaded set.
type Rule struct {
	Name        string
	Description string
	Expression  string
	Action      Action
	// Line is the rule's line in rules.yaml.
	Line int
	// Cost is the expression's estimated worst-case cost (CEL cost units).
	Cost uint64
	// Examples is the number of examples the rule passed at load.
	Examples int
	// Variables are the declared names the expression reads, sorted.
	Variables []string
}

// compiled is a rule with its program.
type compiled struct {
	Rule
	prg cel.Program
	pre *prefilter // nil: every evaluation goes to CEL
}

// Set is a loaded rule set: compiled, type-checked, cost-checked, its
// examples passed. It is immutable and safe for concurrent use.
type Set struct {
	version string
	file    string
	rules   []compiled
	allow   []int // indexes of allow rules, in file order
	others  []int // indexes of the other rules, in file order
	pool    sync.Pool
}

// Version is the set's version (vYYYYMMDD_HHMMSS), or what Parse was given.
func (s *Set) Version() string { return s.version }

// File is the file the set was loaded from.
func (s *Set) File() string { return s.file }

// Len is the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// Rule returns rule i (0 <= i < Len), in file order.
func (s *Set) Rule(i int) Rule { return s.rules[i].Rule }

// UsesFeatures reports whether a rule reads a features.<name> variable
// (the caller then fills Input.Features).
func (s *Set) UsesFeatures() bool {
	for i := range s.rules {
		for _, v := range s.rules[i].Variables {
			if strings.HasPrefix(v, "features.") {
				return true
			}
		}
	}
	return false
}

// Outcome is the result of evaluating a set.
type Outcome struct {
	// Decision is the final decision.
	Decision contracts.Decision
	// Rule is the index of the rule that decided, -1 when the model did.
	Rule int
	// RuleName is that rule's name, "" when the model decided.
	RuleName string
}

// ErrorObserver is told about a rule whose evaluation failed (it then
// does not match). It must be safe for concurrent use.
type ErrorObserver interface {
	RuleFailed(rule int, err error)
}

// Evaluate applies the set to in (ADR 0016): the first allow rule that
// matches approves; otherwise the decision is the most severe of the
// model's and the actions of the matching rules, and the deciding rule is
// the first, in file order, whose action is that decision when it is more
// severe than the model's. Rules that cannot change the outcome are not
// evaluated. A rule whose evaluation fails does not match and is reported
// to errs (may be nil). Evaluate does not allocate beyond the boxing of
// values CEL needs (see the package benchmarks).
func (s *Set) Evaluate(in *Input, errs ErrorObserver) Outcome {
	a, _ := s.pool.Get().(*activation)
	if a == nil {
		a = new(activation)
	}
	a.reset(in)
	out := s.evaluate(a, errs)
	a.in = nil
	clear(a.vals[:])
	s.pool.Put(a)
	return out
}

func (s *Set) evaluate(a *activation, errs ErrorObserver) Outcome {
	for _, i := range s.allow {
		if s.match(i, a, errs) {
			return Outcome{Decision: contracts.DecisionApprove, Rule: i, RuleName: s.rules[i].Name}
		}
	}
	best := a.in.Decision.Index()
	out := Outcome{Decision: a.in.Decision, Rule: -1}
	for _, i := range s.others {
		if best == len(contracts.Decisions)-1 {
			break // decline: nothing can raise it
		}
		d := s.rules[i].Action.Decision()
		if d.Index() <= best {
			continue // cannot change the outcome
		}
		if s.match(i, a, errs) {
			best = d.Index()
			out = Outcome{Decision: d, Rule: i, RuleName: s.rules[i].Name}
		}
	}
	return out
}

// match evaluates rule i: its prefilter first, CEL when that passes.
func (s *Set) match(i int, a *activation, errs ErrorObserver) bool {
	r := &s.rules[i]
	if r.pre != nil && !r.pre.pass(a.in) {
		return false
	}
	v, _, err := r.prg.Eval(a)
	if err != nil {
		if errs != nil {
			errs.RuleFailed(i, err)
		}
		return false
	}
	return v == types.True
}

// Matches evaluates rule i alone against in (examples, backtests). An
// evaluation error is returned.
func (s *Set) Matches(i int, in *Input) (bool, error) {
	r := &s.rules[i]
	if r.pre != nil && !r.pre.pass(in) {
		return false, nil
	}
	a := &activation{}
	a.reset(in)
	v, _, err := r.prg.Eval(a)
	if err != nil {
		return false, err
	}
	return v == types.True, nil
}
