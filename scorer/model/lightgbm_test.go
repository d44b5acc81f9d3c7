package model

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// v4ParserSection is the trailing section LightGBM 4 writes after the
// parameters when a model was trained with a custom parser config.
const v4ParserSection = "\nparser:\n{\"className\":\"LibSVMParser\",\"labelIdx\":0}\nend of parser\n"

// breastCancer returns lg_breast_cancer.txt (a v3 file), its inputs, and the
// expected probabilities computed from LightGBM's own pred_leaf output
// (lg_breast_cancer_data_pred_leaves.txt): sigmoid of the sum of the leaf
// values LightGBM selected.
func breastCancer(t *testing.T) (string, [][]float64, []float64) {
	dir := leavesTestdata(t)
	text := string(readFile(t, filepath.Join(dir, "lg_breast_cancer.txt")))
	require.Contains(t, text, "\nversion=v3\n")
	x := readMatrix(t, filepath.Join(dir, "lg_breast_cancer_data.txt"))
	leaves := readMatrix(t, filepath.Join(dir, "lg_breast_cancer_data_pred_leaves.txt"))
	_, trees, _ := lgbSplit(t, text)
	leafValues := make([][]float64, len(trees))
	for i, tr := range trees {
		for _, line := range strings.Split(tr, "\n") {
			if v, ok := strings.CutPrefix(line, "leaf_value="); ok {
				for _, f := range strings.Fields(v) {
					fv, err := strconv.ParseFloat(f, 64)
					require.NoError(t, err)
					leafValues[i] = append(leafValues[i], fv)
				}
			}
		}
	}
	require.Len(t, leaves, len(x))
	want := make([]float64, len(x))
	for r := range x {
		require.Len(t, leaves[r], len(trees))
		raw := 0.0
		for i, l := range leaves[r] {
			raw += leafValues[i][int(l)]
		}
		want[r] = sigmoidRef(raw)
	}
	return text, x, want
}

func TestLightGBMBreastCancerVersions(t *testing.T) {
	text, x, want := breastCancer(t)
	h, trees, footer := lgbSplit(t, text)
	variants := map[string]string{
		"v3": text,
		"v2": lgbJoin(setHeader(t, h, "version", "v2"), trees, footer),
		"v4": lgbJoin(setHeader(t, h, "version", "v4"), trees, footer) + v4ParserSection,
		"v4-crlf": strings.ReplaceAll(
			lgbJoin(setHeader(t, h, "version", "v4"), trees, footer)+v4ParserSection, "\n", "\r\n"),
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			m, err := Load([]byte(v))
			require.NoError(t, err)
			assert.Equal(t, FormatLightGBM, m.Format())
			assert.Equal(t, 30, m.NumFeatures())
			assert.Equal(t, 39, m.NumTrees())
			names := m.FeatureNames()
			require.Len(t, names, 30)
			assert.Equal(t, "Column_0", names[0])
			assert.Equal(t, "Column_29", names[29])
			require.NoError(t, m.CheckParity(goldenRows(x, want), 1e-12))
		})
	}
}

// TestLightGBMDartBreastCancer: a v2 file whose true probabilities were
// written by LightGBM's predict (lg_dart_breast_cancer.py). Saved DART
// models predict as a plain sum of trees.
func TestLightGBMDartBreastCancer(t *testing.T) {
	dir := leavesTestdata(t)
	m, err := LoadFile(filepath.Join(dir, "lg_dart_breast_cancer.model"))
	require.NoError(t, err)
	x := readMatrix(t, filepath.Join(dir, "breast_cancer_test.tsv"))
	p := readMatrix(t, filepath.Join(dir, "lg_dart_breast_cancer_true_predictions.txt"))
	want := make([]float64, len(p))
	for i := range p {
		want[i] = p[i][0]
	}
	require.Len(t, x, 57)
	require.NoError(t, m.CheckParity(goldenRows(x, want), 1e-12))
}

// TestLightGBMFromMulticlass derives, for every class k of leaves' multiclass
// test models, a binary model made of class k's trees, and checks it against
// sigmoid(LightGBM's raw score for class k). lg_kddcup99 has categorical
// splits (124 trees with num_cat > 0), so categorical routing is covered.
func TestLightGBMFromMulticlass(t *testing.T) {
	dir := leavesTestdata(t)
	cases := []struct {
		model, data, raw   string
		numClass, skipCols int
	}{
		{"lg_kddcup99.model", "kddcup99_test.tsv", "lg_kddcup99_true_predictions.txt", 13, 0},
		{"lgmulticlass.model", "multiclass_test.tsv", "lgmulticlass_true_raw_predictions.txt", 5, 1},
	}
	for _, c := range cases {
		text := string(readFile(t, filepath.Join(dir, c.model)))
		x := readMatrix(t, filepath.Join(dir, c.data))
		raw := readMatrix(t, filepath.Join(dir, c.raw))
		require.Len(t, raw, len(x))
		for i := range x {
			x[i] = x[i][c.skipCols:]
		}
		for k := 0; k < c.numClass; k++ {
			m, err := Load([]byte(binaryFromMulticlass(t, text, c.numClass, k)))
			require.NoError(t, err, "%s class %d", c.model, k)
			want := make([]float64, len(x))
			for i := range raw {
				want[i] = sigmoidRef(raw[i][k])
			}
			require.NoError(t, m.CheckParity(goldenRows(x, want), 1e-12), "%s class %d", c.model, k)
		}
	}
}

func TestLightGBMRefusals(t *testing.T) {
	dir := leavesTestdata(t)
	text, _, _ := breastCancer(t)
	h, trees, footer := lgbSplit(t, text)
	linear := append([]string(nil), trees...)
	// A LightGBM >= 3 linear tree carries is_linear=1 plus per-leaf linear models.
	linear[3] += "\nis_linear=1\nleaf_const=0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1" +
		"\nnum_features=1 0 0 0 0 0 0 0 0 0 0 0 0 0\nleaf_features=3          \nleaf_coeff=0.5          "
	cases := map[string]struct {
		data string
		err  error
		msg  string
	}{
		"linear tree":     {lgbJoin(h, linear, footer), ErrUnsupported, "linear trees"},
		"multiclass":      {string(readFile(t, filepath.Join(dir, "lgmulticlass.model"))), ErrUnsupported, "num_class=5"},
		"kdd multiclass":  {string(readFile(t, filepath.Join(dir, "lg_kddcup99.model"))), ErrUnsupported, "num_class=13"},
		"gamma":           {string(readFile(t, filepath.Join(dir, "genlin_fmtp_gamma_AvgClaimAmount.model"))), ErrUnsupported, `objective "gamma"`},
		"poisson":         {string(readFile(t, filepath.Join(dir, "genlin_fmtp_poisson_Frequency.model"))), ErrUnsupported, "poisson"},
		"regression":      {lgbJoin(setHeader(t, h, "objective", "regression"), trees, footer), ErrUnsupported, "only binary classification"},
		"lambdarank":      {lgbJoin(setHeader(t, h, "objective", "lambdarank"), trees, footer), ErrUnsupported, "lambdarank"},
		"xentropy":        {lgbJoin(setHeader(t, h, "objective", "cross_entropy"), trees, footer), ErrUnsupported, "cross-entropy"},
		"sigmoid 2":       {lgbJoin(setHeader(t, h, "objective", "binary sigmoid:2"), trees, footer), ErrUnsupported, "sigmoid:1"},
		"random forest":   {string(readFile(t, filepath.Join(dir, "lg_rf_iris.model"))), ErrUnsupported, ""},
		"version v5":      {lgbJoin(setHeader(t, h, "version", "v5"), trees, footer), ErrUnsupported, "v5"},
		"json dump":       {string(readFile(t, filepath.Join(dir, "lg_dart_breast_cancer.json"))), ErrUnsupported, "dump_model"},
		"truncated":       {text[:len(text)/2], ErrCorrupt, ""},
		"tree_sizes":      {lgbJoin(h, trees[:10], footer), ErrCorrupt, "tree_sizes"},
		"feature too big": {strings.Replace(text, "split_feature=27 ", "split_feature=30 ", 1), ErrCorrupt, "feature 30"},
		"child range":     {strings.Replace(text, "left_child=1 3 -2", "left_child=9 3 -2", 1), ErrCorrupt, "outside"},
		"leaf range":      {strings.Replace(text, "left_child=1 3 -2", "left_child=1 3 -11", 1), ErrCorrupt, "leaf"},
		"cycle":           {strings.Replace(text, "left_child=1 3 -2 4 7", "left_child=1 3 -2 4 1", 1), ErrCorrupt, ""},
		"lengths":         {strings.Replace(text, "decision_type=2 2 2 2 2 2 2 2 2\n", "decision_type=2 2 2 2 2 2 2 2\n", 1), ErrCorrupt, "decision_type"},
		"nan leaf":        {strings.Replace(text, "leaf_value=0.64741641089713009 ", "leaf_value=nan ", 1), ErrCorrupt, "not finite"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.NotEqual(t, text, c.data)
			m, err := Load([]byte(c.data))
			require.Error(t, err)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, c.err)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}

func TestPredictChecksLength(t *testing.T) {
	text, x, _ := breastCancer(t)
	m, err := Load([]byte(text))
	require.NoError(t, err)
	_, err = m.Predict(x[0][:29])
	assert.ErrorContains(t, err, "expects 30 features, got 29")
	_, err = m.Predict(append(append([]float64(nil), x[0]...), 1))
	assert.Error(t, err)
	_, err = m.Predict(nil)
	assert.Error(t, err)
	p, err := m.Predict(x[0])
	require.NoError(t, err)
	assert.False(t, math.IsNaN(p))
}
