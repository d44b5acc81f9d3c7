package contracts

import (
	"errors"
	"strings"
)

// Kind classifies a validation failure. Its string value is the dead-letter
// reason (and the last token of the dead-letter subject) for that failure.
type Kind string

// Kinds of validation failure.
const (
	// KindMalformed: not JSON, not a JSON object, or a field of the wrong JSON
	// type (for example a string where an integer is expected).
	KindMalformed Kind = ReasonMalformed
	// KindInvalid: well-typed JSON that violates a contract rule.
	KindInvalid Kind = ReasonInvalid
	// KindTooLarge: the payload is larger than the validator's limit; it was
	// not parsed.
	KindTooLarge Kind = ReasonTooLarge
)

// Sentinel errors matched by errors.Is against a *ValidationError of the
// corresponding Kind.
var (
	ErrMalformed = errors.New("contracts: " + ReasonMalformed)
	ErrInvalid   = errors.New("contracts: " + ReasonInvalid)
	ErrTooLarge  = errors.New("contracts: " + ReasonTooLarge)
)

// Problem is one violation of a contract.
type Problem struct {
	// Path is the JSON path of the offending field, such as "amount_minor"
	// or "aggregates.card_txn_count_1h"; empty for the document as a whole.
	Path string
	// Message says what is wrong. It never contains the offending value, so
	// problems are safe to log and to put into dead-letter headers.
	Message string
}

// String renders the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError reports every problem found in a message. Decoder errors
// from encoding/json are deliberately not wrapped: their text can quote
// payload bytes, and payloads may contain card data.
type ValidationError struct {
	// Kind is the class of failure; string(Kind) is the dead-letter reason.
	Kind Kind
	// Problems lists every problem found (wrong JSON types first, then
	// contract violations, each in field order); never empty.
	Problems []Problem
}

// Error lists every problem: "invalid: transaction_id: required;
// amount_minor: must be positive".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Kind))
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Reason returns the dead-letter reason for the error (string(e.Kind)).
func (e *ValidationError) Reason() string { return string(e.Kind) }

// Unwrap returns the sentinel error of e's Kind (ErrMalformed, ErrInvalid or
// ErrTooLarge), so errors.Is(err, ErrInvalid) works.
func (e *ValidationError) Unwrap() error {
	switch e.Kind {
	case KindMalformed:
		return ErrMalformed
	case KindInvalid:
		return ErrInvalid
	case KindTooLarge:
		return ErrTooLarge
	}
	return nil
}

// problems accumulates problems; it allocates only when there is one.
type problems struct {
	list      []Problem
	malformed bool
}

func (ps *problems) add(path, msg string) {
	ps.list = append(ps.list, Problem{Path: path, Message: msg})
}

// typeErr records a wrong-JSON-type problem, which makes the error malformed.
func (ps *problems) typeErr(path, msg string) {
	ps.malformed = true
	ps.add(path, msg)
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	k := KindInvalid
	if ps.malformed {
		k = KindMalformed
	}
	return &ValidationError{Kind: k, Problems: ps.list}
}

func singleProblem(k Kind, path, msg string) *ValidationError {
	return &ValidationError{Kind: k, Problems: []Problem{{Path: path, Message: msg}}}
}
