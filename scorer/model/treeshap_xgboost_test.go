package model_test

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/model"
)

// contribTolerance is the agreement issue 10 asks for with XGBoost's
// pred_contribs, per feature and for the bias. XGBoost computes in float32.
const contribTolerance = 1e-5

// TestContributionsMatchXGBoostFixtures trains small models with XGBoost
// itself (testdata/xgb_shap.py: missing values, integer features,
// non-default base_score, lossguide growth, features split on twice on a
// path, rows on float32 thresholds) and compares every row's contributions
// with XGBoost's pred_contribs.
func TestContributionsMatchXGBoostFixtures(t *testing.T) {
	dir := t.TempDir()
	testenv.RunPython(t, "", "testdata/xgb_shap.py", dir)
	for _, name := range []string{"depthwise_missing", "exact_base_score", "lossguide", "deep_repeats", "no_missing_int"} {
		t.Run(name, func(t *testing.T) {
			m, err := model.LoadFile(filepath.Join(dir, name+".json"))
			require.NoError(t, err)
			require.True(t, m.HasCovers())
			rows := parseTSV(t, readText(t, filepath.Join(dir, name+"_X.tsv")))
			want := parseTSV(t, readText(t, filepath.Join(dir, name+"_contribs.tsv")))
			require.Len(t, want, len(rows))
			compareContribs(t, m, rows, want)
		})
	}
}

// TestContributionsMatchXGBoostBundled compares the bundled model's
// contributions on its golden rows with XGBoost's pred_contribs.
func TestContributionsMatchXGBoostBundled(t *testing.T) {
	l := testenv.BundledModel(t)
	rows := make([][]float64, len(l.Meta.GoldenRows))
	for i, g := range l.Meta.GoldenRows {
		rows[i] = g.Features
	}
	want := testenv.XGBoostGoldenContribs(t, filepath.Join(l.Dir, l.Meta.ModelFile), l.Meta.GoldenRows)
	require.Len(t, want, len(rows))
	compareContribs(t, l.Model, rows, want)

	// The load-time check of golden contributions: XGBoost's pass, a value
	// moved by 2e-5 or a missing row fails.
	g := l.Meta.GoldenRows
	require.NoError(t, l.Model.CheckContributions(g, want, model.DefaultContributionTolerance))
	want[7][3] += 2e-5
	err := l.Model.CheckContributions(g, want, model.DefaultContributionTolerance)
	require.ErrorIs(t, err, model.ErrParity)
	require.Contains(t, err.Error(), "first failing row 7 column 3")
	require.ErrorIs(t, l.Model.CheckContributions(g, want[1:], model.DefaultContributionTolerance), model.ErrParity)
}

// compareContribs checks each row's contributions against want within
// contribTolerance, and that they sum to Predict's margin.
func compareContribs(t *testing.T, m *model.Model, rows, want [][]float64) {
	t.Helper()
	out := make([]float64, m.NumFeatures()+1)
	maxDiff := 0.0
	for i, x := range rows {
		require.NoError(t, m.Contributions(x, out))
		require.Len(t, want[i], len(out), "row %d", i)
		for j := range out {
			d := math.Abs(out[j] - want[i][j])
			maxDiff = math.Max(maxDiff, d)
			require.LessOrEqual(t, d, contribTolerance, "row %d column %d: got %.17g, XGBoost %.17g", i, j, out[j], want[i][j])
		}
		p, err := m.Predict(x)
		require.NoError(t, err)
		sum := 0.0
		for _, v := range out {
			sum += v
		}
		require.InDelta(t, math.Log(p/(1-p)), sum, 1e-8, "row %d: contributions do not sum to the margin", i)
	}
	t.Logf("%d rows, max |diff| with XGBoost %.3g", len(rows), maxDiff)
}

// parseTSV reads rows of tab-separated numbers, empty = missing (NaN).
func parseTSV(t *testing.T, text string) [][]float64 {
	t.Helper()
	var rows [][]float64
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		var row []float64
		for _, f := range strings.Split(line, "\t") {
			v := math.NaN()
			if f != "" {
				var err error
				v, err = strconv.ParseFloat(f, 64)
				require.NoError(t, err)
			}
			row = append(row, v)
		}
		rows = append(rows, row)
	}
	return rows
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
