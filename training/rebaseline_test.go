package training_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/training"
)

// copyBundledBytes copies the bundled version's files byte for byte, under
// the same version name, into a new store; it returns the store and the
// copy's metadata path.
func copyBundledBytes(t *testing.T) (*modelstore.Store, string, string) {
	t.Helper()
	version := testenv.BundledVersion(t)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, version), os.DirFS(filepath.Join(testenv.ModelDir(t), version))))
	return modelstore.Open(dir), version, filepath.Join(dir, version, modelstore.MetadataFile)
}

// editMetadataAsStore rewrites a metadata file through modelstore.Metadata,
// encoded as the store writes it.
func editMetadataAsStore(t *testing.T, path string, edit func(*modelstore.Metadata)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var m modelstore.Metadata
	require.NoError(t, json.Unmarshal(raw, &m))
	edit(&m)
	out, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(out, '\n'), 0o644))
}

// TestRebaselineBundled: the bundled version's feature baselines, removed
// from a copy, come back from Rebaseline byte for byte as committed, and
// nothing else in metadata.json or the model file moves: the committed
// baselines are what Rebaseline computes from the regenerated data (its
// golden rows matched bit for bit), masked rows left out.
func TestRebaselineBundled(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerates the bundled version's 300 000 rows")
	}
	store, version, path := copyBundledBytes(t)
	committed, err := os.ReadFile(path)
	require.NoError(t, err)
	modelBefore, err := os.ReadFile(filepath.Join(filepath.Dir(path), "model.json"))
	require.NoError(t, err)
	editMetadataAsStore(t, path, func(m *modelstore.Metadata) { m.FeatureBaselines = nil })

	var log bytes.Buffer
	meta, err := training.Rebaseline(t.Context(), store, version, training.Config{Log: &log})
	require.NoError(t, err, "log:\n%s", log.String())
	t.Logf("%s", log.String())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(committed), string(got), "the committed metadata.json is Rebaseline's output")
	modelAfter, err := os.ReadFile(filepath.Join(filepath.Dir(path), "model.json"))
	require.NoError(t, err)
	assert.Equal(t, modelBefore, modelAfter)

	l, err := store.Load(version)
	require.NoError(t, err, "the rebaselined version loads through the store's checks")
	require.Len(t, l.Meta.FeatureBaselines, features.Count)
	assert.Equal(t, meta.FeatureBaselines, l.Meta.FeatureBaselines)
	kept := 0
	for _, fb := range l.Meta.FeatureBaselines {
		n := fb.Missing
		for _, c := range fb.Counts {
			n += c
		}
		if kept == 0 {
			kept = n
		}
		assert.Equal(t, kept, n, "%s: the same rows in every baseline", fb.Feature)
		switch fb.Feature {
		case features.CardTxnCount1h, features.LogCardAmount24h, features.AmountShareOf24h:
			assert.Zero(t, fb.Missing, "%s: velocity is computed on every row the baseline keeps", fb.Feature)
		}
	}
	assert.Less(t, kept, l.Meta.Holdout.Rows, "masked rows left out")
	assert.Greater(t, kept, l.Meta.Holdout.Rows*85/100)
	assert.Contains(t, log.String(), "128 golden rows reproduced bit for bit")
}

// TestRebaselineRefuses: a version whose data Rebaseline cannot regenerate,
// or whose golden rows the regenerated data does not reproduce bit for bit
// (one feature of one golden row one ulp away), or whose metadata.json is
// not as the store writes it, is refused with ErrRebaseline and its
// metadata.json is left as it was.
func TestRebaselineRefuses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		generate bool // the refusal comes after regenerating the data
		edit     func(t *testing.T, path string)
		want     string
	}{
		{"golden row one ulp away", true, func(t *testing.T, path string) {
			editMetadataAsStore(t, path, func(m *modelstore.Metadata) {
				f := m.GoldenRows[3].Features
				f[0] = math.Nextafter(f[0], math.Inf(1))
			})
		}, "golden row 3"},
		{"upstream generator", false, func(t *testing.T, path string) {
			editMetadataAsStore(t, path, func(m *modelstore.Metadata) { m.Data.Generator = "synthetic" })
		}, "not population mode"},
		{"formatted otherwise", false, func(t *testing.T, path string) {
			testenv.EditMetadata(t, filepath.Dir(path), func(m map[string]any) { m["feature_baselines"] = nil })
		}, "not as the store writes it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.generate && testing.Short() {
				t.Skip("regenerates the bundled version's 300 000 rows")
			}
			store, version, path := copyBundledBytes(t)
			tc.edit(t, path)
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			var log bytes.Buffer
			_, err = training.Rebaseline(t.Context(), store, version, training.Config{Log: &log})
			require.ErrorIs(t, err, training.ErrRebaseline)
			assert.Contains(t, err.Error(), tc.want)
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(before), string(after), "metadata.json untouched")
			assert.Equal(t, tc.generate, log.Len() > 0, "the data was regenerated before the refusal: %q", log.String())
		})
	}
}
