package modelstore_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// TestGoldenContributions: a version whose metadata carries XGBoost's own
// pred_contribs for its golden rows loads; one whose contributions are off
// by more than 1e-5, or whose model file has no covers, is refused; the
// bundled version carries them; v20261202_065702, which predates the field,
// loads without it.
func TestGoldenContributions(t *testing.T) {
	bundled := testenv.BundledModel(t)
	require.Len(t, bundled.Meta.GoldenContributions, len(bundled.Meta.GoldenRows), "the bundled version carries golden contributions")
	const older = "v20261202_065702"
	l, err := modelstore.Open(testenv.ModelDir(t)).Load(older)
	require.NoError(t, err)
	require.Nil(t, l.Meta.GoldenContributions, "%s predates golden contributions", older)

	const v = "v20300101_000000"
	dir := t.TempDir()
	vdir := testenv.CopyBundled(t, dir, v)
	meta, err := modelstore.Open(dir).ReadMetadata(v)
	require.NoError(t, err)
	want := testenv.XGBoostGoldenContribs(t, filepath.Join(vdir, meta.ModelFile), meta.GoldenRows)
	setContribs := func(c [][]float64) {
		testenv.EditMetadata(t, vdir, func(m map[string]any) { m["golden_contributions"] = c })
	}

	setContribs(want)
	l, err = modelstore.Open(dir).Load(v)
	require.NoError(t, err)
	require.Len(t, l.Meta.GoldenContributions, len(meta.GoldenRows))

	want[3][len(want[3])-1] += 2e-5 // the bias
	setContribs(want)
	_, err = modelstore.Open(dir).Load(v)
	require.ErrorIs(t, err, model.ErrParity)
	require.Contains(t, err.Error(), "golden contributions")
	want[3][len(want[3])-1] -= 2e-5

	setContribs(want[:10])
	_, err = modelstore.Open(dir).Load(v)
	require.ErrorIs(t, err, model.ErrParity)

	// A model file without covers cannot meet golden contributions.
	setContribs(want)
	raw, err := os.ReadFile(filepath.Join(vdir, meta.ModelFile))
	require.NoError(t, err)
	replaceModel(t, vdir, meta.ModelFile, regexp.MustCompile(`"sum_hessian":\[[^\]]*\],?`).ReplaceAll(raw, nil))
	_, err = modelstore.Open(dir).Load(v)
	require.ErrorIs(t, err, model.ErrNoCovers)
	require.ErrorIs(t, err, model.ErrParity)
}
