package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// TestRulesDocOutputs runs the policy commands docs/rules.md shows with
// their output (those that read no file of the reader's: check, backtest
// -synthetic) against the bundled rule set and model, and compares the
// output with the document's, so the worked example cannot go stale.
func TestRulesDocOutputs(t *testing.T) {
	root := testenv.RepoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "docs", "rules.md"))
	require.NoError(t, err)
	env := []string{"FRAUDSCORE_POLICY_DIR=" + filepath.Join(root, "policies"), "FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t)}
	checked := 0
	lines := strings.Split(string(raw), "\n")
	for i, l := range lines {
		args, ok := strings.CutPrefix(l, "$ ./bin/fraudscore policy ")
		if !ok || strings.ContainsAny(args, "|<>") || strings.Contains(args, ".json") || strings.Contains(args, ".yaml") {
			continue
		}
		var want []string
		for _, o := range lines[i+1:] {
			if strings.HasPrefix(o, "```") || strings.HasPrefix(o, "$ ") {
				break
			}
			want = append(want, o)
		}
		r := runBin(t, "", env, append([]string{"policy"}, strings.Fields(args)...)...)
		require.Zero(t, r.code, "%s: %s", args, r.stderr)
		assert.Equal(t, strings.Join(want, "\n")+"\n", r.stdout, "docs/rules.md line %d: policy %s", i+1, args)
		checked++
	}
	assert.GreaterOrEqual(t, checked, 2, "the check found the document's commands")
}
