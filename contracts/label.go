package contracts

import (
	"encoding/json"
	"strconv"
	"time"
)

// LabelSchemaV1 is the schema_version value of Label v1.
const LabelSchemaV1 = "label.v1"

// SchemaFileLabelV1 is the file name of Label v1's JSON Schema.
const SchemaFileLabelV1 = "label.v1.json"

// Outcome is what a label says a transaction turned out to be.
type Outcome string

// Outcomes of Label v1.
const (
	OutcomeFraud Outcome = "fraud"
	OutcomeLegit Outcome = "legit"
)

// Outcomes lists every Outcome, the bounded values of a label's metric label.
var Outcomes = [...]Outcome{OutcomeFraud, OutcomeLegit}

// Valid reports whether o is a known outcome.
func (o Outcome) Valid() bool { return o == OutcomeFraud || o == OutcomeLegit }

// Well-known label sources. Source is an open set constrained by
// LabelSourcePattern (it is the last token of the label's subject); these
// are the values fraudscore's own tools use.
const (
	SourceChargeback = "chargeback" // the issuer's chargeback, weeks to months late
	SourceReview     = "review"     // an analyst's review outcome
	SourceCustomer   = "customer"   // the cardholder reported it (or confirmed it)
	SourceSynthetic  = "synthetic"  // the demo's generator ground truth
)

// Limits of Label v1.
const (
	// MaxLabelSourceLen is the longest source (LabelSourcePattern).
	MaxLabelSourceLen = 32
	// MaxLabelReasonCodeLen is the longest reason_code.
	MaxLabelReasonCodeLen = 64
	// MaxAnalystIDLen is the longest analyst_id.
	MaxAnalystIDLen = 128
	// DefaultMaxLabelBytes is the largest label payload accepted.
	DefaultMaxLabelBytes = 4 << 10
)

// LabelSourcePattern is the JSON Schema pattern of a label's source: a
// lower-case subject token.
const LabelSourcePattern = "^[a-z][a-z0-9_]{0,31}$"

// Label is the known outcome of one transaction (contract label.v1),
// published on LabelSubject(source) into the LABELS stream. It never holds
// card data: every string field is checked with LooksLikePAN. Encode it
// with encoding/json.
type Label struct {
	// SchemaVersion is LabelSchemaV1.
	SchemaVersion string `json:"schema_version"`
	// TransactionID is the labelled transaction's id, as in its event.
	TransactionID string `json:"transaction_id"`
	// Label is fraud or legit.
	Label Outcome `json:"label"`
	// Source says who knows: chargeback, review, customer, ... (a
	// lower-case token, LabelSourcePattern).
	Source string `json:"source"`
	// ReportedAt is when the outcome became known (RFC 3339).
	ReportedAt time.Time `json:"reported_at"`
	// ReasonCode is the source's own code (a chargeback reason code, a
	// review outcome code); optional.
	ReasonCode string `json:"reason_code,omitempty"`
	// AnalystID identifies the analyst of a review; optional. An id, never
	// a name or an e-mail address.
	AnalystID string `json:"analyst_id,omitempty"`
}

// LabelSubject returns the subject a label from source is published on.
func LabelSubject(source string) string { return SubjectLabelsPrefix + source }

// Problem messages of labels.
const (
	msgOutcome = "must be one of fraud, legit"
	msgSource  = "must be a lower-case token: a-z first, then a-z, 0-9 or '_', at most 32 characters"
	msgFuture  = "must not be in the future"
)

var labelFieldNames = [...]string{
	"schema_version", "transaction_id", "label", "source", "reported_at", "reason_code", "analyst_id",
}

// DecodeLabel decodes data into lb and validates it (ValidateLabel). lb is
// reset first. Unknown fields are ignored. Errors are *ValidationError, as
// for DecodeEvent: too_large unparsed above DefaultMaxLabelBytes (or the
// Validator's MaxBytes when smaller), malformed for bad JSON or wrong JSON
// types, invalid for contract violations. DecodeLabel never panics.
func (v *Validator) DecodeLabel(data []byte, lb *Label) error {
	if lb == nil {
		return errNilDestination
	}
	*lb = Label{}
	limit := min(v.maxBytes(), DefaultMaxLabelBytes)
	if len(data) > limit {
		return singleProblem(KindTooLarge, "", "payload is "+strconv.Itoa(len(data))+" bytes; the limit is "+strconv.Itoa(limit))
	}
	if !startsObject(data) {
		return malformedJSON(data)
	}
	var raw [len(labelFieldNames)]json.RawMessage
	if err := readObject(data, labelFieldNames[:], raw[:]); err != nil {
		return err
	}
	var ps problems
	bad := make([]bool, len(labelFieldNames))
	dst := [...]*string{
		&lb.SchemaVersion, &lb.TransactionID, (*string)(&lb.Label), &lb.Source, nil, &lb.ReasonCode, &lb.AnalystID,
	}
	for i, d := range dst {
		if d == nil {
			continue
		}
		s, ok := rawString(&ps, labelFieldNames[i], raw[i])
		*d, bad[i] = s, !ok
	}
	if s, ok := rawString(&ps, "reported_at", raw[4]); !ok {
		bad[4] = true
	} else if s != "" {
		if err := lb.ReportedAt.UnmarshalText([]byte(s)); err != nil {
			ps.add("reported_at", msgTimestamp)
			bad[4] = true
		}
	}
	v.checkLabel(lb, bad, raw[4] == nil || isNull(raw[4]), &ps)
	return ps.err()
}

// ValidateLabel checks a Label built in Go (before publishing it).
func (v *Validator) ValidateLabel(lb *Label) error {
	if lb == nil {
		return singleProblem(KindInvalid, "", "nil label")
	}
	var ps problems
	v.checkLabel(lb, make([]bool, len(labelFieldNames)), lb.ReportedAt.IsZero(), &ps)
	return ps.err()
}

// checkLabel appends lb's contract violations to ps; fields marked bad were
// already reported.
func (v *Validator) checkLabel(lb *Label, bad []bool, noTime bool, ps *problems) {
	if !bad[0] && !checkSchemaVersion(ps, lb.SchemaVersion, LabelSchemaV1) {
		return
	}
	if !bad[1] {
		checkTransactionID(ps, "transaction_id", lb.TransactionID)
	}
	if !bad[2] && checkString(ps, "label", string(lb.Label), true) && !lb.Label.Valid() {
		ps.add("label", msgOutcome)
	}
	if !bad[3] && checkString(ps, "source", lb.Source, true) && !validLabelSource(lb.Source) {
		ps.add("source", msgSource)
	}
	if !bad[4] {
		switch {
		case noTime:
			ps.add("reported_at", msgRequired)
		case lb.ReportedAt.Year() < minEventYear:
			ps.add("reported_at", msgBefore2000)
		case lb.ReportedAt.After(v.now().Add(v.maxFutureSkew())):
			ps.add("reported_at", msgFuture)
		}
	}
	if !bad[5] && checkString(ps, "reason_code", lb.ReasonCode, false) && len(lb.ReasonCode) > MaxLabelReasonCodeLen {
		ps.add("reason_code", "must be at most 64 characters")
	}
	if !bad[6] && checkString(ps, "analyst_id", lb.AnalystID, false) && len(lb.AnalystID) > MaxAnalystIDLen {
		ps.add("analyst_id", "must be at most 128 characters")
	}
}

// validLabelSource reports whether s matches LabelSourcePattern.
func validLabelSource(s string) bool {
	if len(s) == 0 || len(s) > MaxLabelSourceLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || isDigit(c) || c == '_') {
			return false
		}
	}
	return true
}
