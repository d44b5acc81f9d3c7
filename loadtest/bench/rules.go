package bench

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fraudscore/fraudscore/scorer/rules"
	"github.com/fraudscore/fraudscore/scorer/versiondir"
)

// RulesSet is the rule set of the "fraudscore backlog, 50 rules" scenario:
// 50 typical analyst rules (comparisons, set membership and string prefixes
// over event fields, each with its examples), none of which the synthetic
// traffic matches, so every rule is evaluated for every transaction. It is
// internal/testenv.TypicalRules(50, false), which the scorer's rule
// benchmarks use; a test keeps the two equal.
//
//go:embed rules50.yaml
var RulesSet string

// rulesVersion names the scenario's one rule set version.
const rulesVersion = "v20261202_000000"

// RulesPolicyDir writes RulesSet as the latest version of a policy
// directory at dir (created) and returns dir.
func RulesPolicyDir(dir string) (string, error) {
	v := filepath.Join(dir, rulesVersion)
	if err := os.MkdirAll(v, 0o755); err != nil {
		return "", fmt.Errorf("bench: policy dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(v, rules.FileName), []byte(RulesSet), 0o644); err != nil {
		return "", fmt.Errorf("bench: rule set: %w", err)
	}
	if err := os.Symlink(rulesVersion, filepath.Join(dir, versiondir.LatestLink)); err != nil {
		return "", fmt.Errorf("bench: policy link: %w", err)
	}
	return dir, nil
}
