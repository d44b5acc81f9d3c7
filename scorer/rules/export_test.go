package rules

// ParseUnchecked parses generated rules without examples (benchmarks).
func ParseUnchecked(yaml string) (*Set, error) {
	return parse("generated.yaml", []byte(yaml), "generated", false)
}
