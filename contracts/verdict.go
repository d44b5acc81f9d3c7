package contracts

import "time"

// VerdictSchemaV1 is the schema_version value of Verdict v1.
const VerdictSchemaV1 = "verdict.v1"

// Decision is what fraudscore recommends for a transaction.
type Decision string

// Decisions of Verdict v1, in increasing severity.
const (
	DecisionApprove Decision = "approve"
	DecisionReview  Decision = "review"
	DecisionDecline Decision = "decline"
)

// Decisions lists every Decision in increasing severity.
var Decisions = [...]Decision{DecisionApprove, DecisionReview, DecisionDecline}

// Index is d's position in Decisions (that of review, the fail-safe
// middle, for an unknown decision), for tables indexed by decision.
func (d Decision) Index() int {
	switch d {
	case DecisionApprove:
		return 0
	case DecisionDecline:
		return 2
	}
	return 1
}

// Valid reports whether d is a known decision.
func (d Decision) Valid() bool {
	return d == DecisionApprove || d == DecisionReview || d == DecisionDecline
}

// Verdict is fraudscore's answer for one transaction (contract verdict.v1).
type Verdict struct {
	// SchemaVersion is VerdictSchemaV1.
	SchemaVersion string `json:"schema_version"`
	// TransactionID is the scored transaction's id.
	TransactionID string `json:"transaction_id"`
	// Decision is approve, review or decline.
	Decision Decision `json:"decision"`
	// Score is the model's fraud probability in [0, 1].
	Score float64 `json:"score"`
	// ModelVersion names the model version that produced Score.
	ModelVersion string `json:"model_version"`
	// PolicyVersion names the thresholds that turned Score into Decision.
	PolicyVersion string `json:"policy_version"`
	// Reasons explain the decision; may be empty.
	Reasons []string `json:"reasons"`
	// ReasonDetails explain each reason: entry i is why Reasons[i] was
	// given (feature, value the model saw, contribution in log-odds).
	// Absent when there are no reasons; consumers that predate it ignore it.
	ReasonDetails []ReasonDetail `json:"reason_details,omitempty"`
	// Shadow lists every other model that scored the transaction beside the
	// one that decided (a challenger in shadow, or the champion when the
	// challenger decided): its version, score and would-be decision. Absent
	// when no other model scored; consumers that predate it ignore it.
	Shadow []ShadowResult `json:"shadow,omitempty"`
	// Rule names the analyst rule that decided (ADR 0016): set only when a
	// rule changed the model's decision (an allow rule lowered it, or a
	// review or decline rule raised it); absent when the model decided.
	// Consumers that predate it ignore it.
	Rule string `json:"rule,omitempty"`
	// RulesVersion names the analyst rule set that was applied
	// (vYYYYMMDD_HHMMSS), whether or not a rule decided; absent when no rule
	// set was applied. Consumers that predate it ignore it.
	RulesVersion string `json:"rules_version,omitempty"`
	// Features are the feature values the deciding model saw, in that
	// model's feature order (FRAUDSCORE_VERDICT_FEATURES=true): JSON
	// {"<name>": <number|null>, ...}, a missing input (NaN) as null. Absent
	// when not enabled; consumers that predate it ignore it.
	Features FeatureValues `json:"features,omitempty"`
	// ScoredAt is when the verdict was computed (UTC).
	ScoredAt time.Time `json:"scored_at"`
	// ScoringMicros is the in-process scoring time in microseconds.
	ScoringMicros int64 `json:"scoring_us"`
}

// MaxRuleNameLen is the longest analyst rule name (Verdict.Rule).
const MaxRuleNameLen = 64

// ValidRuleName reports whether name is a valid analyst rule name:
// ^[a-z][a-z0-9_]{0,63}$.
func ValidRuleName(name string) bool {
	if len(name) == 0 || len(name) > MaxRuleNameLen || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ShadowResult is one model's result for a transaction it scored without
// deciding it: an entry of Verdict.Shadow.
type ShadowResult struct {
	// ModelVersion names the model version that produced Score.
	ModelVersion string `json:"model_version"`
	// PolicyVersion names the thresholds that turned Score into Decision.
	PolicyVersion string `json:"policy_version"`
	// Score is the model's fraud probability in [0, 1].
	Score float64 `json:"score"`
	// Decision is what this model would have decided.
	Decision Decision `json:"decision"`
}
