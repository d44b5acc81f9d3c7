package contracts

// The code tables are constant strings rather than maps so that the package
// holds no mutable state; lookups are binary searches over fixed-width
// entries and do not allocate.

// IsCurrency reports whether code is an active ISO 4217 alphabetic currency
// code (upper case, for example "EUR"). Fund codes (such as BOV, CHE, USN),
// precious metals (XAU, ...) and testing codes (XTS, XXX) are not accepted:
// they are never the currency of a card payment.
func IsCurrency(code string) bool { return inTable(currencyTable, 3, code) }

// IsCountry reports whether code is an officially assigned ISO 3166-1 alpha-2
// country code (upper case, for example "DE").
func IsCountry(code string) bool { return inTable(countryTable, 2, code) }

// CurrencyCodes returns the accepted ISO 4217 codes in ascending order. The
// slice is freshly allocated; callers may modify it.
func CurrencyCodes() []string { return splitTable(currencyTable, 3) }

// CountryCodes returns the accepted ISO 3166-1 alpha-2 codes in ascending
// order. The slice is freshly allocated; callers may modify it.
func CountryCodes() []string { return splitTable(countryTable, 2) }

func inTable(table string, width int, code string) bool {
	if len(code) != width {
		return false
	}
	lo, hi := 0, len(table)/width
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		entry := table[mid*width : mid*width+width]
		switch {
		case entry == code:
			return true
		case entry < code:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return false
}

func splitTable(table string, width int) []string {
	out := make([]string, 0, len(table)/width)
	for i := 0; i+width <= len(table); i += width {
		out = append(out, table[i:i+width])
	}
	return out
}
