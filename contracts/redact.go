package contracts

// Masking card numbers before anything is stored.
//
// RedactPANs finds card numbers with the same rule as LooksLikePAN (see
// pan.go) in any bytes, JSON or not, in any field, known or unknown, and in
// keys, numbers and string values alike. Each one found keeps at most its
// first six and last four digits; every other digit becomes '*'. Separators
// (spaces, dashes) and every non-digit byte stay where they were, so the
// output has the length of the input and remains valid JSON whenever the
// input was valid JSON with the card numbers inside strings: "4111 1111 1111
// 1111" becomes "4111 11** **** 1111", 4111111111111111 becomes
// "411111******1111". A card number written as a bare JSON number becomes a
// token that is not JSON; a redacted payload is evidence, not input.
//
// Card numbers disguised by JSON escapes ("\u0034111...") or split by other
// bytes are not found: the rule looks at the bytes as stored.

// Number of digits a masked card number keeps at each end.
const (
	panKeepFirst = 6
	panKeepLast  = 4
)

// panMask replaces a masked digit.
const panMask = '*'

// RedactPANs returns b with every card number (PAN) masked to at most its
// first six and last four digits, and how many card numbers it masked
// (overlapping candidates in one digit chain count once). The output has the
// same length as b. When nothing is masked it returns b itself and 0 without
// allocating; otherwise it returns a new slice and leaves b unchanged.
//
// Mark a message whose payload or headers were masked with HeaderRedacted.
func RedactPANs(b []byte) (out []byte, n int) {
	masked, n := redact(b)
	if masked == nil {
		return b, 0
	}
	return masked, n
}

// RedactPANString is RedactPANs for a string, such as a header value or an
// error message. When nothing is masked it returns s itself and 0 without
// allocating.
func RedactPANString(s string) (string, int) {
	masked, n := redact(s)
	if masked == nil {
		return s, 0
	}
	return string(masked), n
}

// redact returns a masked copy of s and the number of card numbers masked,
// or nil and 0 when s holds none. Masking can join what is left of a card
// number with the digits around it into a new candidate ("4111111111111111
// 1234567891" leaves "1111 1234567891"), so it runs again over its own output
// until nothing looks like a PAN: LooksLikePAN of the result is false.
func redact[T ~string | ~[]byte](s T) (masked []byte, n int) {
	masked, n = maskPass(s, nil)
	for more := n; more > 0; {
		src := masked
		masked, more = maskPass(src, make([]byte, len(src)))
		n += more
		if more == 0 {
			masked = src
		}
	}
	return masked, n
}

// maskPass masks every candidate found in src, reading only src, into dst
// (a copy of src made on the first candidate when dst is nil). It returns
// nil and 0 when src holds no candidate.
func maskPass[T ~string | ~[]byte](src T, dst []byte) (masked []byte, n int) {
	lastEnd := -1
	panSpans(src, func(start, end int) bool {
		if masked == nil {
			if dst == nil {
				dst = make([]byte, len(src))
			}
			masked = dst
			copy(masked, src)
		}
		if start >= lastEnd {
			n++
		}
		lastEnd = max(lastEnd, end)
		maskDigits(masked[start:end], src[start:end])
		return true
	})
	return masked, n
}

// maskDigits writes '*' over every digit of dst whose byte in src is a digit
// other than the first panKeepFirst and the last panKeepLast digits of src;
// dst and src have the same length. Digits are counted in src, the original,
// so a candidate overlapping one masked before is masked by its own digits.
func maskDigits[T ~string | ~[]byte](dst []byte, src T) {
	digits := 0
	for i := 0; i < len(src); i++ {
		if isDigit(src[i]) {
			digits++
		}
	}
	k := 0
	for i := 0; i < len(src); i++ {
		if !isDigit(src[i]) {
			continue
		}
		if k >= panKeepFirst && k < digits-panKeepLast {
			dst[i] = panMask
		}
		k++
	}
}
