package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fraudscore/fraudscore/scorer/rules"
)

// WritePolicy writes a rule set version, dir/version/rules.yaml, with the
// given contents (not checked: tests write refused sets too). It does not
// move any link; MoveLink does, without the checks of policy promote.
func WritePolicy(t testing.TB, dir, version, yaml string) {
	t.Helper()
	check(t, os.MkdirAll(filepath.Join(dir, version), 0o755))
	check(t, os.WriteFile(filepath.Join(dir, version, rules.FileName), []byte(yaml), 0o644))
}
