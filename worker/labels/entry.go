package labels

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fraudscore/fraudscore/contracts"
)

// Errors of this package; each message starts with "labels:".
var (
	// ErrEntry is returned (wrapped) for an index entry that cannot be read.
	ErrEntry = errors.New("labels: unreadable index entry")
	// ErrState is returned (wrapped) for a label state that cannot be read.
	ErrState = errors.New("labels: unreadable label state")
)

// Defaults of the label topology, shared by the worker and the report.
const (
	// DefaultStream is the labels stream (FRAUDSCORE_LABEL_STREAM).
	DefaultStream = "LABELS"
	// DefaultIndexBucket is the KV bucket of verdicts by transaction id
	// (FRAUDSCORE_VERDICT_INDEX_BUCKET).
	DefaultIndexBucket = "VERDICT_INDEX"
	// DefaultStateBucket is the KV bucket of the first label joined per
	// transaction id (FRAUDSCORE_LABEL_STATE_BUCKET).
	DefaultStateBucket = "LABEL_STATE"
)

// RuleModel is the rule label value of a decision the model made (no
// analyst rule changed it).
const RuleModel = "model"

// RuleOf returns the rule label of a verdict: its Rule, or RuleModel when
// the model decided.
func RuleOf(vd *contracts.Verdict) string {
	if vd.Rule == "" {
		return RuleModel
	}
	return vd.Rule
}

// Entry is what the index keeps of a verdict: enough to count a label
// against it for as long as the horizon, after the verdict itself has aged
// out of VERDICTS.
type Entry struct {
	// ModelVersion decided the transaction.
	ModelVersion string `json:"m"`
	// Rule is the deciding rule, RuleModel when the model decided.
	Rule string `json:"r"`
	// Decision is the verdict's decision.
	Decision contracts.Decision `json:"d"`
}

// EntryOf returns the index entry of a verdict.
func EntryOf(vd *contracts.Verdict) Entry {
	return Entry{ModelVersion: vd.ModelVersion, Rule: RuleOf(vd), Decision: vd.Decision}
}

// Marshal encodes e for the index bucket.
func (e Entry) Marshal() []byte {
	b, _ := json.Marshal(e) // strings only: cannot fail
	return b
}

// ParseEntry decodes an index value written by Marshal.
func ParseEntry(b []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil || e.ModelVersion == "" || !e.Decision.Valid() {
		return Entry{}, fmt.Errorf("%w: %d bytes", ErrEntry, len(b))
	}
	return e, nil
}

// Key is the KV key of a transaction id. Ids may hold ':' (and dots that
// would make empty subject tokens), which KV keys may not: the key is the
// id in unpadded base64url, injective and always a valid key.
func Key(txID string) string { return base64.RawURLEncoding.EncodeToString([]byte(txID)) }

// State is the first label joined for a transaction, kept in the state
// bucket so that a second label is told apart: a redelivery of the same
// message (same stream sequence: already counted), a duplicate (same
// outcome) or a contradiction (the other outcome).
type State struct {
	// Label is the outcome counted.
	Label contracts.Outcome `json:"l"`
	// Seq is the LABELS stream sequence of the label counted.
	Seq uint64 `json:"s"`
}

// Marshal encodes s for the state bucket.
func (s State) Marshal() []byte {
	b, _ := json.Marshal(s)
	return b
}

// ParseState decodes a state value written by Marshal.
func ParseState(b []byte) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil || !s.Label.Valid() {
		return State{}, fmt.Errorf("%w: %d bytes", ErrState, len(b))
	}
	return s, nil
}

// Result is what became of one label, the bounded values of the result
// label of fraudscore_labels_total.
type Result string

// Results of a label.
const (
	// ResultJoined: the first label of a transaction with a verdict; counted
	// in the confusion table.
	ResultJoined Result = "joined"
	// ResultUnknown: no verdict of the transaction was found within the
	// verdict wait (never scored, or scored before the horizon).
	ResultUnknown Result = "unknown"
	// ResultDuplicate: the transaction was already labelled with the same
	// outcome; not counted again.
	ResultDuplicate Result = "duplicate"
	// ResultContradictory: the transaction was already labelled with the
	// other outcome; the first label stays counted.
	ResultContradictory Result = "contradictory"
	// ResultDeadLetter: the label did not decode or validate and was
	// dead-lettered.
	ResultDeadLetter Result = "dead_letter"
)

// Results lists every Result.
var Results = [...]Result{ResultJoined, ResultUnknown, ResultDuplicate, ResultContradictory, ResultDeadLetter}

// Second classifies a label that finds prev already joined for its
// transaction: ok is false for a redelivery of the very message that was
// counted (nothing to count).
func Second(prev State, label contracts.Outcome, seq uint64) (r Result, ok bool) {
	switch {
	case prev.Seq == seq:
		return "", false
	case prev.Label == label:
		return ResultDuplicate, true
	}
	return ResultContradictory, true
}
