package contracts

import (
	"strconv"
	"unicode/utf8"
)

// Strict input. encoding/json accepts JSON text that the contract does not:
// it replaces invalid UTF-8 and unpaired surrogate escapes with U+FFFD (two
// different card tokens can then become equal), lets the last of duplicate
// keys win, ignores numbers of any size in unknown fields and nests up to
// 10000 deep. A payload must be I-JSON (RFC 7493) within MaxNestingDepth;
// checkStrict enforces that before encoding/json sees the payload, and the
// fast path (decode_fast.go) leaves every payload that might break a rule to
// it. Violations are KindMalformed with a message that gives a byte offset
// and, when the problem lies inside a known field, that field's path: never
// the offending bytes, which could hold card data.

// MaxNestingDepth is the deepest nesting of objects and arrays a payload may
// have; the event object itself is depth 1 and its aggregates depth 2, so
// unknown fields may nest 31 levels below the event. Deeper payloads are
// malformed.
const MaxNestingDepth = 32

// Problem messages of the strict rules; the byte offset is appended.
const (
	msgBadUTF8     = "invalid UTF-8 in a string"
	msgSurrogate   = "unpaired UTF-16 surrogate escape in a string"
	msgControlChar = "unescaped control character in a string"
	msgDuplicate   = "duplicate key"
	msgHugeNumber  = "number beyond the range of a 64-bit float"
	msgTooDeep     = "objects and arrays nested deeper than " // + MaxNestingDepth + " levels"
)

// objKind says which contract object a JSON object is, for paths and for
// matching keys onto fields.
type objKind int

const (
	objOther objKind = iota
	objEvent
	objAggregates
)

// aggPaths are the problem paths of the aggregates fields.
var aggPaths = [numAggFields]string{
	"aggregates.card_txn_count_1h", "aggregates.card_amount_24h_minor",
	"aggregates.device_card_count_24h", "aggregates.new_device",
}

// strictScanner walks a JSON document looking for the first violation of
// the strict rules. It stops silently at a syntax error: encoding/json
// reports those, with its own offset.
type strictScanner struct {
	data    []byte
	pos     int
	problem *ValidationError
}

// checkStrict returns the first violation of the strict rules in data, which
// starts with a JSON object, or nil when there is none or when data has a
// syntax error first.
func checkStrict(data []byte) *ValidationError {
	s := strictScanner{data: data}
	s.skipWS()
	s.value(0, "", objEvent)
	return s.problem
}

// fail records a problem at offset off and stops the scan.
func (s *strictScanner) fail(path, msg string, off int) bool {
	s.problem = singleProblem(KindMalformed, path, msg+" at byte offset "+strconv.Itoa(off))
	return false
}

func (s *strictScanner) skipWS() {
	for s.pos < len(s.data) && isSpace(s.data[s.pos]) {
		s.pos++
	}
}

func (s *strictScanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// value scans one value; depth is the number of containers around it, path
// the deepest known field holding it and kind what it is if an object. It
// returns false when the scan must stop (a problem or a syntax error).
func (s *strictScanner) value(depth int, path string, kind objKind) bool {
	switch c := s.peek(); {
	case c == '"':
		_, ok := s.str(path, false)
		return ok
	case c == '{' || c == '[':
		if depth+1 > MaxNestingDepth {
			return s.fail(path, msgTooDeep+strconv.Itoa(MaxNestingDepth)+" levels", s.pos)
		}
		if c == '[' {
			return s.array(depth+1, path)
		}
		return s.object(depth+1, path, kind)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || isDigit(c):
		return s.number(path)
	}
	return false
}

func (s *strictScanner) literal(lit string) bool {
	if len(s.data)-s.pos >= len(lit) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return false
}

func (s *strictScanner) array(depth int, path string) bool {
	s.pos++ // '['
	s.skipWS()
	if s.peek() == ']' {
		s.pos++
		return true
	}
	for {
		s.skipWS()
		if !s.value(depth, path, objOther) {
			return false
		}
		s.skipWS()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return true
		default:
			return false
		}
	}
}

// object scans an object of the given kind. Keys are compared after
// unescaping; keys of a contract object are also duplicates when they name
// the same field, as encoding/json matches them (exactly, else
// case-insensitively).
func (s *strictScanner) object(depth int, path string, kind objKind) bool {
	s.pos++ // '{'
	s.skipWS()
	if s.peek() == '}' {
		s.pos++
		return true
	}
	var names []string
	switch kind {
	case objEvent:
		names = eventFieldNames[:]
	case objAggregates:
		names = aggFieldNames[:]
	}
	var fields uint32
	var others map[string]struct{}
	for {
		s.skipWS()
		keyAt := s.pos
		key, ok := s.str(path, true)
		if !ok {
			return false
		}
		memberPath, memberKind := path, objOther
		if i := matchName(names, key); i >= 0 {
			if fields&(1<<uint(i)) != 0 {
				return s.fail(fieldPath(kind, i), msgDuplicate, keyAt)
			}
			fields |= 1 << uint(i)
			memberPath = fieldPath(kind, i)
			if kind == objEvent && i == iAggregates {
				memberKind = objAggregates
			}
		} else {
			if others == nil {
				others = make(map[string]struct{})
			}
			if _, dup := others[key]; dup {
				return s.fail(path, msgDuplicate, keyAt)
			}
			others[key] = struct{}{}
		}
		s.skipWS()
		if s.peek() != ':' {
			return false
		}
		s.pos++
		s.skipWS()
		if !s.value(depth, memberPath, memberKind) {
			return false
		}
		s.skipWS()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return true
		default:
			return false
		}
	}
}

// fieldPath is the problem path of field i of an object of kind k.
func fieldPath(k objKind, i int) string {
	if k == objAggregates {
		return aggPaths[i]
	}
	return eventFieldNames[i]
}

// str scans a string. With decode it returns its unescaped content (for
// keys); otherwise only whether the scan may go on.
func (s *strictScanner) str(path string, decode bool) (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	d := s.data
	start := s.pos + 1
	plain := true
	for i := start; i < len(d); {
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			if !decode {
				return "", true
			}
			if plain {
				return string(d[start:i]), true
			}
			return unescape(d[start:i]), true
		case c < 0x20:
			return "", s.fail(path, msgControlChar, i)
		case c == '\\':
			plain = false
			n, ok := s.escape(path, i)
			if !ok {
				return "", false
			}
			i += n
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n == 1 {
				return "", s.fail(path, msgBadUTF8, i)
			}
			i += n
		}
	}
	return "", false
}

// escape checks the escape sequence at d[i] ('\\') and returns its length:
// a surrogate escape counts with its partner.
func (s *strictScanner) escape(path string, i int) (int, bool) {
	d := s.data
	if i+1 >= len(d) {
		return 0, false
	}
	switch d[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
	default:
		return 0, false
	}
	r, ok := hex4(d[i+2:])
	if !ok {
		return 0, false
	}
	switch {
	case r < 0xd800 || r > 0xdfff:
		return 6, true
	case r >= 0xdc00: // a low surrogate without its high one
		return 0, s.fail(path, msgSurrogate, i)
	}
	if len(d)-(i+6) >= 6 && d[i+6] == '\\' && d[i+7] == 'u' {
		if lo, ok := hex4(d[i+8:]); ok && lo >= 0xdc00 && lo <= 0xdfff {
			return 12, true
		}
	}
	return 0, s.fail(path, msgSurrogate, i)
}

// hex4 decodes four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unescape decodes the content of a JSON string already checked by str.
func unescape(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] != '\\' {
			out = append(out, b[i])
			i++
			continue
		}
		switch c := b[i+1]; c {
		case 'u':
			r, _ := hex4(b[i+2:])
			i += 6
			if r >= 0xd800 && r < 0xdc00 {
				lo, _ := hex4(b[i+2:])
				r = (r-0xd800)<<10 | (lo - 0xdc00) + 0x10000
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		default: // '"', '\\', '/'
			out = append(out, c)
		}
		i += 2
	}
	return string(out)
}

// number scans a number and checks that it fits a float64 (RFC 7493 §2.2);
// numbers in known integer fields are further checked against their type
// when decoded.
func (s *strictScanner) number(path string) bool {
	n, ok := scanNumber(s.data, s.pos)
	if !ok {
		return false
	}
	s.pos = n.end
	if n.hasExp || n.intDigits > 300 {
		if _, err := strconv.ParseFloat(string(s.data[n.start:n.end]), 64); err != nil {
			return s.fail(path, msgHugeNumber, n.start)
		}
	}
	return true
}
