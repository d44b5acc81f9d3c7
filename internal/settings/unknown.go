package settings

import (
	"fmt"
	"sort"
	"strings"
)

// UnknownVariable is a FRAUDSCORE_* variable in the environment that no
// setting reads, with the known variable closest to it, if any is close.
type UnknownVariable struct {
	Name       string
	Suggestion string // "" when no known name is close
}

func (u UnknownVariable) String() string {
	if u.Suggestion == "" {
		return fmt.Sprintf("unknown variable %s ignored (fraudscore worker --help lists them)", u.Name)
	}
	return fmt.Sprintf("unknown variable %s ignored; did you mean %s?", u.Name, u.Suggestion)
}

// testVariable reports whether name configures a test suite rather than
// fraudscore: the chaos and soak tests, and the supply-chain tests that
// find their tools by these (mk/supplychain.mk exports them to every make
// recipe, make run's worker included), read them, so they are known and
// stay silent.
func testVariable(name string) bool {
	switch strings.TrimPrefix(name, Prefix+"_") {
	case "CHAOS", "CHAOS_REPORT", "CHAOS_VELOCITY_STORAGE", "SOAK", "SOAK_RATE", "SOAK_REPORT",
		"GOVULNCHECK", "CYCLONEDX_GOMOD", "VULNDB":
		return true
	}
	return false
}

// Unknown returns, sorted by name, the FRAUDSCORE_* variables of environ
// (os.Environ form) that are neither variables of the sections nor
// test-suite variables, each with the closest variable by edit distance
// when one is close (at most a third of the name's length, or at least 2,
// apart, or a variable that starts with the unknown name, as NATS_PASSWORD
// for NATS_PASSWORD_FILE).
func Unknown(environ []string, sections ...Section) []UnknownVariable {
	var vars []Variable
	for _, s := range sections {
		vars = append(vars, s.Variables()...)
	}
	known := make(map[string]bool, len(vars))
	for _, v := range vars {
		known[v.Name] = true
	}
	var out []UnknownVariable
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, Prefix+"_") || known[name] || testVariable(name) {
			continue
		}
		u := UnknownVariable{Name: name}
		best := -1
		for _, v := range vars {
			d := editDistance(name, v.Name)
			if ok := d <= max(2, (len(name)-len(Prefix)-1)/3) || strings.HasPrefix(v.Name, name); ok && (best < 0 || d < best) {
				u.Suggestion, best = v.Name, d
			}
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
