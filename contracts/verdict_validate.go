package contracts

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// ValidateVerdict validates a verdict against the verdict.v1 rules:
// schema_version is "verdict.v1"; transaction_id follows the event's rules;
// decision is a known Decision; score is a number in [0, 1]; model_version and
// policy_version are 1..128 characters; scored_at is set; scoring_us is not
// negative; no string holds a card number. Reasons may be nil or empty.
// Shadow may be nil or empty; each entry has the rules of the same fields of
// the verdict (versions, score, decision). ReasonDetails may be nil or
// empty; otherwise it has one entry per reason with the reason's code, a
// feature name of 1..128 characters, a finite or missing (NaN) value and a
// finite contribution. Rule and RulesVersion may be empty; a Rule is a
// valid rule name (ValidRuleName) and needs a RulesVersion of 1..128
// characters. Features may be nil or empty; otherwise it has at most
// MaxVerdictFeatures entries whose names are 1..128 characters and do not
// repeat, and whose values are finite or missing (NaN).
func (v *Validator) ValidateVerdict(vd *Verdict) error {
	if vd == nil {
		return singleProblem(KindInvalid, "", "nil verdict")
	}
	var ps problems
	checkVerdict(vd, 0, &ps)
	return ps.err()
}

// Verdict field bits for the slow path.
const (
	vSchemaVersion fieldSet = 1 << iota
	vTransactionID
	vDecision
	vScore
	vModelVersion
	vPolicyVersion
	vReasons
	vScoredAt
	vScoringMicros
	vShadow
	vReasonDetails
	vRule
	vRulesVersion
	vFeatures
)

func checkVerdict(vd *Verdict, done fieldSet, ps *problems) {
	if done&vSchemaVersion == 0 && !checkSchemaVersion(ps, vd.SchemaVersion, VerdictSchemaV1) {
		return
	}
	if done&vTransactionID == 0 {
		checkTransactionID(ps, "transaction_id", vd.TransactionID)
	}
	if done&vDecision == 0 && checkString(ps, "decision", string(vd.Decision), true) && !vd.Decision.Valid() {
		ps.add("decision", msgDecision)
	}
	if done&vScore == 0 && !(vd.Score >= 0 && vd.Score <= 1) { // also rejects NaN
		ps.add("score", msgScore)
	}
	if done&vModelVersion == 0 && checkString(ps, "model_version", vd.ModelVersion, true) &&
		utf8.RuneCountInString(vd.ModelVersion) > MaxVersionLen {
		ps.add("model_version", "must be at most 128 characters")
	}
	if done&vPolicyVersion == 0 && checkString(ps, "policy_version", vd.PolicyVersion, true) &&
		utf8.RuneCountInString(vd.PolicyVersion) > MaxVersionLen {
		ps.add("policy_version", "must be at most 128 characters")
	}
	if done&vReasons == 0 {
		for i, r := range vd.Reasons {
			if LooksLikePAN(r) {
				ps.add("reasons["+strconv.Itoa(i)+"]", msgPAN)
			}
		}
	}
	if done&vScoredAt == 0 {
		switch t := vd.ScoredAt; {
		case t.IsZero():
			ps.add("scored_at", msgRequired)
		case t.Year() < minEventYear || t.Year() > 9999:
			ps.add("scored_at", "must be between 2000 and 9999")
		}
	}
	if done&vScoringMicros == 0 && vd.ScoringMicros < 0 {
		ps.add("scoring_us", msgNegative)
	}
	if done&vReasonDetails == 0 {
		checkReasonDetails(vd, ps)
	}
	if done&vShadow == 0 {
		for i := range vd.Shadow {
			checkShadowResult(&vd.Shadow[i], shadowPath(i), 0, ps)
		}
	}
	if done&vRule == 0 && vd.Rule != "" && !ValidRuleName(vd.Rule) {
		ps.add("rule", "must match ^[a-z][a-z0-9_]{0,63}$")
	}
	if done&vFeatures == 0 {
		checkFeatures(vd, ps)
	}
	if done&vRulesVersion == 0 {
		switch {
		case utf8.RuneCountInString(vd.RulesVersion) > MaxVersionLen:
			ps.add("rules_version", "must be at most 128 characters")
		case vd.RulesVersion == "" && vd.Rule != "":
			ps.add("rules_version", "is required with rule")
		}
	}
}

// ShadowResult field bits for the slow path.
const (
	sModelVersion fieldSet = 1 << iota
	sPolicyVersion
	sScore
	sDecision
	numShadowFields = iota
)

var shadowFieldNames = [numShadowFields]string{"model_version", "policy_version", "score", "decision"}

// shadowPath is the problem path prefix of shadow entry i.
func shadowPath(i int) string { return "shadow[" + strconv.Itoa(i) + "]." }

// checkShadowResult checks one shadow entry; prefix is its path prefix and
// done the fields already reported.
func checkShadowResult(sr *ShadowResult, prefix string, done fieldSet, ps *problems) {
	if done&sModelVersion == 0 && checkString(ps, prefix+"model_version", sr.ModelVersion, true) &&
		utf8.RuneCountInString(sr.ModelVersion) > MaxVersionLen {
		ps.add(prefix+"model_version", "must be at most 128 characters")
	}
	if done&sPolicyVersion == 0 && checkString(ps, prefix+"policy_version", sr.PolicyVersion, true) &&
		utf8.RuneCountInString(sr.PolicyVersion) > MaxVersionLen {
		ps.add(prefix+"policy_version", "must be at most 128 characters")
	}
	if done&sScore == 0 && !(sr.Score >= 0 && sr.Score <= 1) { // also rejects NaN
		ps.add(prefix+"score", msgScore)
	}
	if done&sDecision == 0 && checkString(ps, prefix+"decision", string(sr.Decision), true) && !sr.Decision.Valid() {
		ps.add(prefix+"decision", msgDecision)
	}
}

const (
	jSchemaVersion = iota
	jTransactionID
	jDecision
	jScore
	jModelVersion
	jPolicyVersion
	jReasons
	jScoredAt
	jScoringMicros
	jShadow
	jReasonDetails
	jRule
	jRulesVersion
	jFeatures
	numVerdictFields
)

var verdictFieldNames = [numVerdictFields]string{
	"schema_version", "transaction_id", "decision", "score", "model_version", "policy_version",
	"reasons", "scored_at", "scoring_us", "shadow", "reason_details", "rule", "rules_version",
	"features",
}

// DecodeVerdict decodes and validates a verdict, for consumers of the
// verdict stream. vd is reset first. Unknown fields are ignored; an absent or
// null reasons decodes as nil. Payloads above DefaultMaxEventBytes are
// rejected unparsed. Errors are *ValidationError, as for DecodeEvent.
func DecodeVerdict(data []byte, vd *Verdict) error {
	if vd == nil {
		return errNilDestination
	}
	*vd = Verdict{}
	if len(data) > DefaultMaxEventBytes {
		return singleProblem(KindTooLarge, "", "payload is "+strconv.Itoa(len(data))+" bytes; the limit is "+strconv.Itoa(DefaultMaxEventBytes))
	}
	if !startsObject(data) {
		return malformedJSON(data)
	}
	var ps problems
	if err := json.Unmarshal(data, vd); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return syntaxProblem(se.Offset)
		}
		return slowDecodeVerdict(data, vd)
	}
	checkVerdict(vd, 0, &ps)
	return ps.err()
}

func slowDecodeVerdict(data []byte, vd *Verdict) error {
	*vd = Verdict{}
	var raw [numVerdictFields]json.RawMessage
	if err := readObject(data, verdictFieldNames[:], raw[:]); err != nil {
		return err
	}
	var ps problems
	var done fieldSet
	strs := [...]struct {
		i   int
		dst *string
	}{
		{jSchemaVersion, &vd.SchemaVersion}, {jTransactionID, &vd.TransactionID},
		{jDecision, (*string)(&vd.Decision)}, {jModelVersion, &vd.ModelVersion},
		{jPolicyVersion, &vd.PolicyVersion}, {jRule, &vd.Rule}, {jRulesVersion, &vd.RulesVersion},
	}
	for _, f := range strs {
		s, ok := rawString(&ps, verdictFieldNames[f.i], raw[f.i])
		if !ok {
			done |= vSchemaVersion << uint(f.i)
		}
		*f.dst = s
	}
	if vd.SchemaVersion != "" && vd.SchemaVersion != VerdictSchemaV1 {
		return singleProblem(KindInvalid, "schema_version", msgSchemaVersion)
	}
	if f, ok := rawFloat(&ps, "score", raw[jScore]); ok {
		vd.Score = f
	} else {
		done |= vScore
	}
	if r := raw[jReasons]; !isNull(r) {
		var arr []json.RawMessage
		if r[0] != '[' || json.Unmarshal(r, &arr) != nil {
			ps.typeErr("reasons", msgArray)
			done |= vReasons
		} else {
			vd.Reasons = make([]string, len(arr))
			for i, e := range arr {
				// A bad element stays "", which checkVerdict accepts, so
				// the other elements are still checked.
				if isNull(e) {
					ps.typeErr("reasons["+strconv.Itoa(i)+"]", msgString)
					continue
				}
				vd.Reasons[i], _ = rawString(&ps, "reasons["+strconv.Itoa(i)+"]", e)
			}
		}
	}
	if t, ok := rawTime(&ps, "scored_at", raw[jScoredAt]); ok {
		vd.ScoredAt = t
	} else {
		done |= vScoredAt
	}
	if n, ok := rawInt(&ps, "scoring_us", raw[jScoringMicros], 64); ok {
		vd.ScoringMicros = n
	} else {
		done |= vScoringMicros
	}
	if r := raw[jReasonDetails]; !isNull(r) && !slowDecodeReasonDetails(r, vd, &ps) {
		done |= vReasonDetails
	}
	if r := raw[jFeatures]; !isNull(r) && !decodeFeatures(r, &vd.Features, &ps) {
		done |= vFeatures
	}
	if r := raw[jShadow]; !isNull(r) {
		done |= vShadow
		slowDecodeShadow(r, vd, &ps)
	}
	checkVerdict(vd, done, &ps)
	if err := ps.err(); err != nil {
		return err
	}
	return singleProblem(KindMalformed, "", "payload could not be decoded")
}

// slowDecodeShadow decodes and checks the shadow array r into vd.Shadow,
// reporting every problem of every entry.
func slowDecodeShadow(r json.RawMessage, vd *Verdict, ps *problems) {
	var arr []json.RawMessage
	if r[0] != '[' || json.Unmarshal(r, &arr) != nil {
		ps.typeErr("shadow", msgArray)
		return
	}
	vd.Shadow = make([]ShadowResult, len(arr))
	for i, e := range arr {
		prefix := shadowPath(i)
		var fields [numShadowFields]json.RawMessage
		if isNull(e) || e[0] != '{' || readObject(e, shadowFieldNames[:], fields[:]) != nil {
			ps.typeErr(prefix[:len(prefix)-1], msgObject)
			continue
		}
		sr := &vd.Shadow[i]
		var done fieldSet
		strs := [...]struct {
			bit fieldSet
			i   int
			dst *string
		}{
			{sModelVersion, 0, &sr.ModelVersion}, {sPolicyVersion, 1, &sr.PolicyVersion},
			{sDecision, 3, (*string)(&sr.Decision)},
		}
		for _, f := range strs {
			s, ok := rawString(ps, prefix+shadowFieldNames[f.i], fields[f.i])
			if !ok {
				done |= f.bit
			}
			*f.dst = s
		}
		if f, ok := rawFloat(ps, prefix+"score", fields[2]); ok {
			sr.Score = f
		} else {
			done |= sScore
		}
		checkShadowResult(sr, prefix, done, ps)
	}
}

// isFinite reports whether f is neither NaN nor infinite.
func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
