package contracts

// Card-number (PAN) detection, shared by LooksLikePAN (validation, tests) and
// RedactPANs (masking before anything is stored): one rule in one place.
//
// A chain is a run of digits, possibly split into groups by single spaces or
// dashes ("4111 1111 1111 1111", "4111-1111-1111-1111"). Any contiguous
// sequence of whole groups of a chain (one group, the whole chain, or any
// groups in between) with 13 to 19 digits in total that passes the Luhn check
// looks like a PAN. So "4111111111111111-20240101" (one group on its own) and
// "4111 1111 1111 1111 123" (a grouped card number followed by its CVV) are
// caught as well as the plain forms. A digit run longer than 19 digits is
// never split: "41111111111111111234" is not a card number.
//
// The detector is deliberately conservative: about one in ten random 13-19
// digit identifiers passes Luhn and is rejected. Producers should not put long
// purely numeric runs into identifiers (see docs/contracts.md).

const (
	minPANDigits = 13
	maxPANDigits = 19
)

// LooksLikePAN reports whether s contains something that looks like a raw
// primary account number (card number): 13 to 19 digits, optionally grouped
// with single spaces or dashes, passing the Luhn check. It never allocates.
// Use it to keep card data out of logs; it is the check behind the validation
// message "looks like a card number (PAN); send a token".
func LooksLikePAN(s string) bool {
	found := false
	panSpans(s, func(_, _ int) bool {
		found = true
		return false
	})
	return found
}

// ContainsPAN is LooksLikePAN for bytes, such as a whole payload: it
// reports whether b contains something that looks like a card number,
// anywhere, JSON or not. It never allocates.
func ContainsPAN(b []byte) bool {
	found := false
	panSpans(b, func(_, _ int) bool {
		found = true
		return false
	})
	return found
}

// panSpans calls yield with the byte range [start, end) of every sequence of
// whole digit groups in s that looks like a PAN, in order of start and then
// end (ranges of one chain may overlap). It stops when yield returns false.
// A range starts and ends with a digit.
func panSpans[T ~string | ~[]byte](s T, yield func(start, end int) bool) {
	n := len(s)
	for i := 0; i < n; {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// A chain starts at i: digit groups joined by one separator. Most
		// chains (dates, small numbers) hold fewer digits than a card
		// number: measured once and skipped.
		chainEnd, total := i, 0
		for {
			for chainEnd < n && isDigit(s[chainEnd]) {
				chainEnd++
				total++
			}
			if !groupFollows(s, chainEnd) {
				break
			}
			chainEnd++
		}
		if total < minPANDigits {
			i = chainEnd
			continue
		}
		// From each group's start, a candidate grows group by group until
		// it holds more than maxPANDigits digits.
		for groupStart := i; ; {
			digits := 0
			for j := groupStart; ; {
				runStart := j
				for j < n && isDigit(s[j]) {
					j++
				}
				digits += j - runStart
				if digits > maxPANDigits {
					break
				}
				if digits >= minPANDigits && luhnValid(s[groupStart:j]) && !yield(groupStart, j) {
					return
				}
				if !groupFollows(s, j) {
					break
				}
				j++
			}
			groupEnd := groupStart
			for groupEnd < n && isDigit(s[groupEnd]) {
				groupEnd++
			}
			if !groupFollows(s, groupEnd) {
				i = groupEnd // the end of the chain
				break
			}
			groupStart = groupEnd + 1
		}
	}
}

// groupFollows reports whether the digit group ending at j is followed by a
// single separator (space or dash) and another digit group.
func groupFollows[T ~string | ~[]byte](s T, j int) bool {
	return j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && isDigit(s[j+1])
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// luhnValid runs the Luhn (mod 10) check over the digits of s, skipping any
// other byte.
func luhnValid[T ~string | ~[]byte](s T) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
