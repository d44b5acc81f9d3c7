package rules

import (
	"errors"
	"fmt"
)

// Errors returned (wrapped) by the package; every message starts with
// "rules:". A refused set's error is a *RuleError wrapping one of them.
var (
	// ErrYAML: rules.yaml does not parse, or has a key this package does
	// not know, or a value of the wrong kind.
	ErrYAML = errors.New("rules: invalid rules.yaml")
	// ErrName: a rule's name is missing or not [a-z][a-z0-9_]{0,63}.
	ErrName = errors.New("rules: invalid rule name")
	// ErrDuplicate: two rules of the set have the same name.
	ErrDuplicate = errors.New("rules: duplicate rule name")
	// ErrSyntax: an expression does not parse.
	ErrSyntax = errors.New("rules: expression does not parse")
	// ErrUnknownName: an expression names a variable or field that is not
	// declared (Variables).
	ErrUnknownName = errors.New("rules: unknown name in expression")
	// ErrType: an expression does not type-check (an operator or function
	// applied to the wrong types).
	ErrType = errors.New("rules: expression does not type-check")
	// ErrNotBool: an expression's type is not bool.
	ErrNotBool = errors.New("rules: expression is not a bool")
	// ErrCost: an expression's estimated worst-case cost is above
	// MaxRuleCost.
	ErrCost = errors.New("rules: expression over the cost limit")
	// ErrAction: a rule's action is not approve, review, decline or allow.
	ErrAction = errors.New("rules: unknown action")
	// ErrExamples: a rule lacks an example it must match or one it must not.
	ErrExamples = errors.New("rules: missing examples")
	// ErrExample: an example does not behave as it says (or is invalid).
	ErrExample = errors.New("rules: example failed")
	// ErrNoRules: the set has no rules, or more than MaxRules.
	ErrNoRules = errors.New("rules: no rules or too many")
	// ErrBadVersion: the name is not vYYYYMMDD_HHMMSS or the version does
	// not exist.
	ErrBadVersion = errors.New("rules: no such rule set version")
	// ErrNoLatest: the policy directory has no latest link.
	ErrNoLatest = errors.New("rules: no latest rule set link")
	// ErrNoRollback: no earlier good version to roll back to.
	ErrNoRollback = errors.New("rules: no earlier rule set to roll back to")
)

// RuleError is why a set was refused: the file, the rule (its name, or
// "#N" for the Nth rule when it has no valid name; empty for the file as a
// whole) and the line in the YAML. It wraps one of the sentinel errors.
type RuleError struct {
	File string
	Rule string
	Line int
	Err  error
}

// Error reads "FILE:LINE: rule NAME: cause" (the cause starts with
// "rules:"), the form editors jump to.
func (e *RuleError) Error() string {
	where := e.File
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Rule == "" {
		return fmt.Sprintf("%s: %v", where, e.Err)
	}
	return fmt.Sprintf("%s: rule %s: %v", where, e.Rule, e.Err)
}

// Unwrap returns the cause.
func (e *RuleError) Unwrap() error { return e.Err }
