package contracts

import (
	"errors"
	"fmt"
	"strings"
)

// ErrTraceparent is wrapped by every error of ParseTraceparent: the value is
// not a W3C traceparent fraudscore can continue. Such a header is ignored
// (see HeaderTraceparent).
var ErrTraceparent = errors.New("contracts: invalid traceparent")

// TraceparentLen is the length of a version 00 traceparent:
// "00-" + 32 hex trace id + "-" + 16 hex parent id + "-" + 2 hex flags.
const TraceparentLen = 55

// TraceFlagSampled is the sampled bit of TraceParent.Flags.
const TraceFlagSampled byte = 0x01

// TraceParent is a parsed W3C Trace Context traceparent
// (https://www.w3.org/TR/trace-context/): the trace a message belongs to and
// the span that sent it. The zero value is not valid.
type TraceParent struct {
	// TraceID identifies the whole trace; never all zeroes in a valid value.
	TraceID [16]byte
	// ParentID is the span id of the sender; never all zeroes in a valid
	// value.
	ParentID [8]byte
	// Flags are the trace flags, carried unchanged (bit 0 is sampled).
	Flags byte
}

// ParseTraceparent parses a traceparent header value by the W3C rules for
// version 00: lowercase hex only, a trace id and a parent id that are not all
// zeroes, version ff refused. A value of a higher version is read by its
// version 00 prefix (it must be followed by the end or a '-'), as the
// specification asks; TraceParent.String always writes version 00.
// Surrounding spaces and tabs are ignored. Errors wrap ErrTraceparent and
// never quote the value, so they are safe to log.
func ParseTraceparent(s string) (TraceParent, error) {
	var tp TraceParent
	s = strings.Trim(s, " \t")
	if len(s) < TraceparentLen {
		return tp, traceErr("shorter than %d characters", TraceparentLen)
	}
	version, ok := hexByte(s[0], s[1])
	switch {
	case !ok:
		return tp, traceErr("version is not two lowercase hex digits")
	case version == 0xff:
		return tp, traceErr("version ff is forbidden")
	case version == 0 && len(s) != TraceparentLen:
		return tp, traceErr("version 00 must be exactly %d characters", TraceparentLen)
	case len(s) > TraceparentLen && s[TraceparentLen] != '-':
		return tp, traceErr("unexpected data after the flags")
	case s[2] != '-' || s[35] != '-' || s[52] != '-':
		return tp, traceErr("fields not separated by '-'")
	}
	if !decodeHex(tp.TraceID[:], s[3:35]) {
		return tp, traceErr("trace id is not 32 lowercase hex digits")
	}
	if !decodeHex(tp.ParentID[:], s[36:52]) {
		return tp, traceErr("parent id is not 16 lowercase hex digits")
	}
	if tp.Flags, ok = hexByte(s[53], s[54]); !ok {
		return tp, traceErr("flags are not two lowercase hex digits")
	}
	if tp.TraceID == ([16]byte{}) {
		return tp, traceErr("trace id is all zeroes")
	}
	if tp.ParentID == ([8]byte{}) {
		return tp, traceErr("parent id is all zeroes")
	}
	return tp, nil
}

func traceErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTraceparent, fmt.Sprintf(format, args...))
}

// Valid reports whether tp could have come from ParseTraceparent: neither
// id is all zeroes.
func (tp TraceParent) Valid() bool {
	return tp.TraceID != [16]byte{} && tp.ParentID != [8]byte{}
}

// Sampled reports whether the sender recorded its span (the sampled flag).
func (tp TraceParent) Sampled() bool { return tp.Flags&TraceFlagSampled != 0 }

// Child returns the traceparent a service sends on after taking part in the
// trace with its own span spanID: the same trace id and flags, spanID as the
// parent id.
func (tp TraceParent) Child(spanID [8]byte) TraceParent {
	tp.ParentID = spanID
	return tp
}

// AppendTo appends the version 00 text form of tp to dst.
func (tp TraceParent) AppendTo(dst []byte) []byte {
	dst = append(dst, '0', '0', '-')
	dst = appendHex(dst, tp.TraceID[:])
	dst = append(dst, '-')
	dst = appendHex(dst, tp.ParentID[:])
	dst = append(dst, '-')
	return appendHex(dst, []byte{tp.Flags})
}

// String returns the version 00 text form of tp, the traceparent header
// value.
func (tp TraceParent) String() string {
	var buf [TraceparentLen]byte
	return string(tp.AppendTo(buf[:0]))
}

const lowerHex = "0123456789abcdef"

func appendHex(dst, src []byte) []byte {
	for _, b := range src {
		dst = append(dst, lowerHex[b>>4], lowerHex[b&0x0f])
	}
	return dst
}

// decodeHex decodes len(dst)*2 lowercase hex digits of s into dst.
func decodeHex(dst []byte, s string) bool {
	for i := range dst {
		b, ok := hexByte(s[2*i], s[2*i+1])
		if !ok {
			return false
		}
		dst[i] = b
	}
	return true
}

func hexByte(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}

// hexDigit accepts lowercase hex only: W3C trace context forbids uppercase.
func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
