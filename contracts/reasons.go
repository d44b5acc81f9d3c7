package contracts

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// MaxReasonCodeLen is the longest reason code.
const MaxReasonCodeLen = 64

// ReasonDetail is why one reason code was given: the feature behind it, the
// value the model saw and how far that value pushed the score up. Entries of
// Verdict.ReasonDetails follow Verdict.Reasons one for one.
type ReasonDetail struct {
	// Code is the reason code, as in Verdict.Reasons: 1 to 64 of A-Z, 0-9
	// and '_', starting with a letter (IP_CARD_COUNTRY_MISMATCH).
	Code string `json:"code"`
	// Feature names the model feature behind the code (its metadata name).
	Feature string `json:"feature"`
	// Value is the feature value the model saw; NaN when the input was
	// missing, written as JSON null.
	Value float64 `json:"value"`
	// Contribution is the feature's exact TreeSHAP contribution to the
	// model's margin, in log-odds (positive: towards fraud).
	Contribution float64 `json:"contribution"`
}

// MarshalJSON encodes rd as AppendJSON does (a missing value as null).
func (rd ReasonDetail) MarshalJSON() ([]byte, error) {
	if !isFinite(rd.Contribution) || math.IsInf(rd.Value, 0) {
		return nil, errors.New("contracts: reason detail: contribution must be finite and value finite or NaN")
	}
	return rd.appendJSON(nil), nil
}

// UnmarshalJSON decodes rd; a null or absent value decodes as NaN (the
// input was missing).
func (rd *ReasonDetail) UnmarshalJSON(data []byte) error {
	var ps problems
	decodeReasonDetail(data, rd, "", &ps)
	if err := ps.err(); err != nil {
		return err
	}
	return nil
}

// appendJSON appends the JSON encoding of rd, with the field order of the
// struct.
func (rd *ReasonDetail) appendJSON(buf []byte) []byte {
	buf = append(buf, `{"code":`...)
	buf = appendString(buf, rd.Code)
	buf = append(buf, `,"feature":`...)
	buf = appendString(buf, rd.Feature)
	buf = append(buf, `,"value":`...)
	buf = appendScore(buf, rd.Value)
	buf = append(buf, `,"contribution":`...)
	buf = appendScore(buf, rd.Contribution)
	return append(buf, '}')
}

var reasonDetailFieldNames = [...]string{"code", "feature", "value", "contribution"}

const msgReasonCode = "must be 1 to 64 of A-Z, 0-9 and '_', starting with a letter"

// decodeReasonDetail decodes one reason_details entry, reporting type
// problems under prefix; the contract rules are checkReasonDetail's.
func decodeReasonDetail(data []byte, rd *ReasonDetail, prefix string, ps *problems) {
	*rd = ReasonDetail{Value: math.NaN()}
	var f [len(reasonDetailFieldNames)]json.RawMessage
	if len(data) == 0 || data[0] != '{' || readObject(data, reasonDetailFieldNames[:], f[:]) != nil {
		ps.typeErr(trimDot(prefix), msgObject)
		return
	}
	rd.Code, _ = rawString(ps, prefix+"code", f[0])
	rd.Feature, _ = rawString(ps, prefix+"feature", f[1])
	if !isNull(f[2]) {
		rd.Value, _ = rawNumber(ps, prefix+"value", f[2])
	}
	if len(f[3]) == 0 {
		ps.add(prefix+"contribution", msgRequired)
	} else {
		rd.Contribution, _ = rawNumber(ps, prefix+"contribution", f[3])
	}
}

// rawNumber decodes a JSON number (not null).
func rawNumber(ps *problems, path string, raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && !isDigit(raw[0])) {
		ps.typeErr(path, msgNumber)
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		ps.add(path, "must be a finite number")
		return 0, false
	}
	return f, true
}

func trimDot(prefix string) string {
	if n := len(prefix); n > 0 && prefix[n-1] == '.' {
		return prefix[:n-1]
	}
	return prefix
}

// reasonDetailPath is the problem path prefix of reason_details entry i.
func reasonDetailPath(i int) string { return "reason_details[" + strconv.Itoa(i) + "]." }

// ValidReasonCode reports whether code is 1 to 64 of A-Z, 0-9 and '_',
// starting with a letter.
func ValidReasonCode(code string) bool {
	if len(code) == 0 || len(code) > MaxReasonCodeLen || code[0] < 'A' || code[0] > 'Z' {
		return false
	}
	for i := 1; i < len(code); i++ {
		if c := code[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkReasonDetails checks vd.ReasonDetails: every entry's rules, and (a
// rule JSON Schema cannot state) one entry per reason, with the same code.
func checkReasonDetails(vd *Verdict, ps *problems) {
	if len(vd.ReasonDetails) == 0 {
		return
	}
	if len(vd.ReasonDetails) != len(vd.Reasons) {
		ps.add("reason_details", "must have one entry per reason, in the order of reasons")
	}
	for i := range vd.ReasonDetails {
		rd := &vd.ReasonDetails[i]
		prefix := reasonDetailPath(i)
		if !ValidReasonCode(rd.Code) {
			ps.add(prefix+"code", msgReasonCode)
		} else if i < len(vd.Reasons) && vd.Reasons[i] != rd.Code {
			ps.add(prefix+"code", "must equal reasons["+strconv.Itoa(i)+"]")
		}
		if checkString(ps, prefix+"feature", rd.Feature, true) && utf8.RuneCountInString(rd.Feature) > MaxVersionLen {
			ps.add(prefix+"feature", "must be at most 128 characters")
		}
		if math.IsInf(rd.Value, 0) {
			ps.add(prefix+"value", "must be a finite number or null")
		}
		if !isFinite(rd.Contribution) {
			ps.add(prefix+"contribution", "must be a finite number")
		}
	}
}

// slowDecodeReasonDetails decodes the reason_details array r into
// vd.ReasonDetails, reporting the type problems of every entry. It reports
// false when there was one (the payload is malformed; the contract rules
// are then not checked, so nothing is reported twice).
func slowDecodeReasonDetails(r json.RawMessage, vd *Verdict, ps *problems) bool {
	var arr []json.RawMessage
	if r[0] != '[' || json.Unmarshal(r, &arr) != nil {
		ps.typeErr("reason_details", msgArray)
		return false
	}
	before := len(ps.list)
	vd.ReasonDetails = make([]ReasonDetail, len(arr))
	for i, e := range arr {
		decodeReasonDetail(e, &vd.ReasonDetails[i], reasonDetailPath(i), ps)
	}
	return len(ps.list) == before
}
