package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// TestModelExplainMatchesXGBoost diffs `model explain` against XGBoost's own
// pred_contribs: on the bundled model with synthetic rows (some missing),
// and on a lossguide model with a non-default base_score that
// scorer/model/testdata/xgb_shap.py trains (rows on float32 thresholds).
func TestModelExplainMatchesXGBoost(t *testing.T) {
	bundled, err := filepath.Abs(filepath.Join(testenv.ModelDir(t), "latest", "model.json"))
	require.NoError(t, err)
	tsv, missing := sampleTSV(300)
	require.Greater(t, missing, 10)
	t.Run("bundled", func(t *testing.T) {
		explainMatches(t, bundled, tsv, testenv.XGBoostContribs(t, bundled, tsv))
	})
	t.Run("lossguide", func(t *testing.T) {
		dir := t.TempDir()
		testenv.RunPython(t, "", filepath.Join(testenv.RepoRoot(t), "scorer", "model", "testdata", "xgb_shap.py"), dir)
		for _, name := range []string{"lossguide", "exact_base_score"} {
			modelFile := filepath.Join(dir, name+".json")
			x, err := os.ReadFile(filepath.Join(dir, name+"_X.tsv"))
			require.NoError(t, err)
			explainMatches(t, modelFile, string(x), testenv.XGBoostContribs(t, modelFile, string(x)))
		}
	})
}

// explainMatches runs `model explain` on tsv and compares every value with
// want within 1e-5, and checks the %.17g layout.
func explainMatches(t *testing.T, modelFile, tsv string, want [][]float64) {
	t.Helper()
	r := runBin(t, tsv, nil, "model", "explain", modelFile)
	require.Zero(t, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, len(want))
	for i, l := range lines {
		fields := strings.Split(l, "\t")
		require.Len(t, fields, len(want[i]), "line %d", i+1)
		for j, f := range fields {
			got, err := strconv.ParseFloat(f, 64)
			require.NoError(t, err)
			assert.Equal(t, strconv.FormatFloat(got, 'g', 17, 64), f, "line %d field %d is not %%.17g", i+1, j+1)
			require.InDelta(t, want[i][j], got, 1e-5, "line %d field %d", i+1, j+1)
		}
	}
}

// TestModelExplainNoCovers: a model file without node covers (sum_hessian
// removed) still predicts, but explain refuses it with the reason.
func TestModelExplainNoCovers(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.ModelDir(t), "latest", "model.json"))
	require.NoError(t, err)
	stripped := regexp.MustCompile(`"sum_hessian":\[[^\]]*\],?`).ReplaceAll(raw, nil)
	require.NotEqual(t, len(raw), len(stripped))
	modelFile := filepath.Join(t.TempDir(), "model.json")
	require.NoError(t, os.WriteFile(modelFile, stripped, 0o644))
	tsv, _ := sampleTSV(3)

	r := runBin(t, tsv, nil, "model", "predict", modelFile)
	require.Zero(t, r.code, r.stderr)
	r = runBin(t, tsv, nil, "model", "explain", modelFile)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "fraudscore model explain: ")
	assert.Contains(t, r.stderr, "no node covers")
}

// TestModelTrainGoldenContributions: `model train` writes XGBoost's
// pred_contribs for the golden rows, `model check` replays them, and
// `model explain` prints them for the golden rows.
func TestModelTrainGoldenContributions(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	if _, err := os.Stat(testenv.Python); err != nil {
		t.Skipf("no %s: %v", testenv.Python, err)
	}
	dir := t.TempDir()
	r := runBin(t, "", nil, "model", "train", "-dir", dir, "-rows", "20000", "-rounds", "20", "-promote")
	require.Zero(t, r.code, r.stderr)
	r = runBin(t, "", nil, "model", "check", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "128 golden rows within 1e-06, their contributions within 1e-05")

	l, err := modelstore.Open(dir).LoadLatest()
	require.NoError(t, err)
	var tsv strings.Builder
	for _, g := range l.Meta.GoldenRows {
		for j, x := range g.Features {
			if j > 0 {
				tsv.WriteByte('\t')
			}
			tsv.WriteString(strconv.FormatFloat(x, 'g', -1, 64)) // NaN prints as "NaN": missing
		}
		tsv.WriteByte('\n')
	}
	explainMatches(t, filepath.Join(l.Dir, l.Meta.ModelFile), tsv.String(), l.Meta.GoldenContributions)
}
