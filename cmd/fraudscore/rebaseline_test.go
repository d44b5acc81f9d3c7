package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// TestModelTrainRebaseline: `model train -rebaseline VERSION` on a byte copy
// of the bundled version regenerates its data, finds the committed
// baselines (nothing to change: metadata.json stays byte for byte), and
// exits 0; a version that is not in the store is a runtime error: exit 1
// with one line.
func TestModelTrainRebaseline(t *testing.T) {
	help := runBin(t, "", nil, "model", "train", "-h")
	require.Zero(t, help.code)
	assert.Contains(t, help.stdout, "-rebaseline")

	if testing.Short() {
		t.Skip("regenerates the bundled version's 300 000 rows")
	}
	version := testenv.BundledVersion(t)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, version), os.DirFS(filepath.Join(testenv.ModelDir(t), version))))
	path := filepath.Join(dir, version, modelstore.MetadataFile)
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	r := runBin(t, "", nil, "model", "train", "-dir", dir, "-rebaseline", version)
	require.Zero(t, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "golden rows reproduced bit for bit")
	assert.Contains(t, r.stdout, "rewrote the feature_baselines of "+filepath.Join(dir, version))
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the bundled baselines are already Rebaseline's")

	r = runBin(t, "", nil, "model", "train", "-dir", dir, "-rebaseline", "v20200101_000000")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.Contains(t, r.stderr, "fraudscore model train: ")
}
