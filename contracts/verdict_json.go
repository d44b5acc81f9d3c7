package contracts

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the JSON encoding of vd to buf and returns the extended
// buffer. It uses no reflection and does not allocate when buf has enough
// capacity (about 300 bytes for a typical verdict).
//
// The output means the same as encoding/json's: the same field names and
// order, strings escaped as encoding/json escapes them (including <, > and &
// and invalid UTF-8 as U+FFFD), reasons always an array (nil encodes as []),
// reason_details, shadow, rule, rules_version and features omitted when
// empty (omitempty), a reason detail's or a feature's missing value (NaN)
// as null, features as an object in their order,
// scored_at in RFC 3339 with nanoseconds in UTC, score formatted with
// strconv 'g' and shortest precision. AppendJSON does not validate: a NaN or
// infinite score, which ValidateVerdict rejects, is written as null so that
// the output stays valid JSON.
func (vd *Verdict) AppendJSON(buf []byte) []byte {
	buf = append(buf, `{"schema_version":`...)
	buf = appendString(buf, vd.SchemaVersion)
	buf = append(buf, `,"transaction_id":`...)
	buf = appendString(buf, vd.TransactionID)
	buf = append(buf, `,"decision":`...)
	buf = appendString(buf, string(vd.Decision))
	buf = append(buf, `,"score":`...)
	buf = appendScore(buf, vd.Score)
	buf = append(buf, `,"model_version":`...)
	buf = appendString(buf, vd.ModelVersion)
	buf = append(buf, `,"policy_version":`...)
	buf = appendString(buf, vd.PolicyVersion)
	buf = append(buf, `,"reasons":[`...)
	for i, r := range vd.Reasons {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, r)
	}
	buf = append(buf, ']')
	buf = appendObjects(buf, `,"reason_details":[`, vd.ReasonDetails, (*ReasonDetail).appendJSON)
	buf = appendObjects(buf, `,"shadow":[`, vd.Shadow, (*ShadowResult).appendJSON)
	if vd.Rule != "" {
		buf = append(buf, `,"rule":`...)
		buf = appendString(buf, vd.Rule)
	}
	if vd.RulesVersion != "" {
		buf = append(buf, `,"rules_version":`...)
		buf = appendString(buf, vd.RulesVersion)
	}
	if len(vd.Features) > 0 {
		buf = append(buf, `,"features":`...)
		buf = vd.Features.appendJSON(buf)
	}
	buf = append(buf, `,"scored_at":"`...)
	buf = vd.ScoredAt.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","scoring_us":`...)
	buf = strconv.AppendInt(buf, vd.ScoringMicros, 10)
	return append(buf, '}')
}

// appendObjects appends an optional array member (omitted when empty):
// open is its key and opening bracket, appendOne encodes one element.
func appendObjects[T any](buf []byte, open string, items []T, appendOne func(*T, []byte) []byte) []byte {
	if len(items) == 0 {
		return buf
	}
	buf = append(buf, open...)
	for i := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendOne(&items[i], buf)
	}
	return append(buf, ']')
}

// appendJSON appends the JSON encoding of sr, with the field order of the
// struct.
func (sr *ShadowResult) appendJSON(buf []byte) []byte {
	buf = append(buf, `{"model_version":`...)
	buf = appendString(buf, sr.ModelVersion)
	buf = append(buf, `,"policy_version":`...)
	buf = appendString(buf, sr.PolicyVersion)
	buf = append(buf, `,"score":`...)
	buf = appendScore(buf, sr.Score)
	buf = append(buf, `,"decision":`...)
	buf = appendString(buf, string(sr.Decision))
	return append(buf, '}')
}

// appendScore appends a score, or null when it is NaN or infinite.
func appendScore(buf []byte, f float64) []byte {
	if isFinite(f) {
		return strconv.AppendFloat(buf, f, 'g', -1, 64)
	}
	return append(buf, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped exactly as encoding/json
// escapes it with HTML escaping on (json.Marshal's default).
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
