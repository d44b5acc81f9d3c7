package rules_test

import (
	"path/filepath"
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
