package rules

// parseUnchecked parses rules without running (or requiring) examples.
func parseUnchecked(yaml string) (*Set, error) {
	return parse("test.yaml", []byte(yaml), "test", false)
}
