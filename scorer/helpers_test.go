package scorer_test

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// bundledDir is the repository's model store.
const bundledDir = "../models"

const python = "/usr/bin/python3"

func loadBundled(tb testing.TB) *modelstore.Loaded {
	tb.Helper()
	l, err := modelstore.Open(bundledDir).LoadLatest()
	require.NoError(tb, err)
	return l
}

// xgbPredictScript reads a TSV of feature rows (nan = missing) from stdin and
// prints XGBoost's own probability for each, with 17 significant digits.
const xgbPredictScript = `
import sys
import numpy as np
import xgboost as xgb
rows = [[float(f) if f not in ("", "nan") else np.nan for f in line.rstrip("\n").split("\t")]
        for line in sys.stdin if line.strip()]
bst = xgb.Booster()
bst.load_model(sys.argv[1])
p = bst.predict(xgb.DMatrix(np.array(rows, dtype=np.float64), missing=np.nan, feature_names=bst.feature_names))
for v in p:
    print(repr(float(v)))
`

// xgboostPredict asks XGBoost itself (via Python) for the probabilities of
// rows under the model file.
func xgboostPredict(tb testing.TB, modelFile string, rows [][]float64) []float64 {
	tb.Helper()
	if _, err := os.Stat(python); err != nil {
		tb.Skipf("no %s: %v", python, err)
	}
	abs, err := filepath.Abs(modelFile)
	require.NoError(tb, err)
	var in bytes.Buffer
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				in.WriteByte('\t')
			}
			if math.IsNaN(v) {
				in.WriteString("nan")
			} else {
				in.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
		in.WriteByte('\n')
	}
	cmd := exec.Command(python, "-c", xgbPredictScript, abs)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(tb, err, "xgboost: %s", stderr.String())
	lines := strings.Fields(string(out))
	require.Len(tb, lines, len(rows))
	preds := make([]float64, len(lines))
	for i, l := range lines {
		preds[i], err = strconv.ParseFloat(l, 64)
		require.NoError(tb, err)
	}
	return preds
}
