package vulndb

import "strings"

// compareSemver orders two SemVer 2.0.0 versions without a leading "v" (as
// OSV writes them: 1.2.3, 0.0.0-20210101000000-abcdef, 1.0.0-rc.1): -1, 0
// or +1. The empty string sorts before every version. Build metadata (+...)
// is ignored, as SemVer says.
func compareSemver(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return -1
	}
	if b == "" {
		return 1
	}
	a, _, _ = strings.Cut(a, "+")
	b, _, _ = strings.Cut(b, "+")
	ac, apre, _ := strings.Cut(a, "-")
	bc, bpre, _ := strings.Cut(b, "-")
	if c := compareDotted(ac, bc, true); c != 0 {
		return c
	}
	switch { // a version without pre-release is the greater
	case apre == "" && bpre == "":
		return 0
	case apre == "":
		return 1
	case bpre == "":
		return -1
	}
	return compareDotted(apre, bpre, false)
}

// compareDotted compares dot-separated identifiers: numeric ones by value
// and below alphanumeric ones; alphanumeric ones in ASCII order; a shorter
// list that is a prefix of a longer one sorts first.
func compareDotted(a, b string, core bool) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, y := as[i], bs[i]
		xn, yn := isNumber(x), isNumber(y)
		switch {
		case xn && yn:
			x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
			if len(x) != len(y) {
				return sign(len(x) - len(y))
			}
			if x != y {
				return sign(strings.Compare(x, y))
			}
		case xn && !core:
			return -1
		case yn && !core:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return sign(len(as) - len(bs))
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
