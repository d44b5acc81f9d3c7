package rules_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

// TestBundledPolicyLoads: the example set in policies/ (served by make
// run, quoted by docs/rules.md) loads and its examples pass.
func TestBundledPolicyLoads(t *testing.T) {
	s := rules.OpenStore(filepath.Join(testenv.RepoRoot(t), "policies"))
	set, err := s.LoadLatest()
	require.NoError(t, err)
	assert.Equal(t, 3, set.Len())
	assert.Equal(t, rules.ActionAllow, set.Rule(0).Action)
}

// TestVariablesDocumented: docs/rules.md names every variable a rule can
// read (the features by their common prefix).
func TestVariablesDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "rules.md"))
	require.NoError(t, err)
	doc := string(raw)
	for _, v := range rules.Variables() {
		name := v.Name
		if strings.HasPrefix(name, "features.") {
			name = "features.<name>"
		}
		assert.Contains(t, doc, "`"+name+"`", "docs/rules.md does not list %s", v.Name)
	}
}
