package contracts

// Card-number (PAN) detection.
//
// A candidate is a run of digits, possibly split into groups by single spaces
// or dashes ("4111 1111 1111 1111", "4111-1111-1111-1111"). A candidate with
// 13 to 19 digits in total that passes the Luhn check looks like a PAN. Each
// unseparated digit run inside a longer chain is checked on its own too, so
// "4111111111111111-20240101" is caught as well.
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
	n := len(s)
	for i := 0; i < n; {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// A chain starts at i: digit groups joined by one separator.
		start := i
		chainDigits := 0
		for {
			runStart := i
			for i < n && isDigit(s[i]) {
				i++
			}
			runLen := i - runStart
			chainDigits += runLen
			if runLen >= minPANDigits && runLen <= maxPANDigits && luhnValid(s[runStart:i]) {
				return true
			}
			if i+1 < n && (s[i] == ' ' || s[i] == '-') && isDigit(s[i+1]) {
				i++
				continue
			}
			break
		}
		if chainDigits >= minPANDigits && chainDigits <= maxPANDigits && luhnValid(s[start:i]) {
			return true
		}
	}
	return false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// luhnValid runs the Luhn (mod 10) check over the digits of s, skipping any
// other byte.
func luhnValid(s string) bool {
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
