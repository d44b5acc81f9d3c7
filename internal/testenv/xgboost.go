package testenv

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	fsmodel "github.com/fraudscore/fraudscore/scorer/model"
)

// Python is the interpreter with xgboost and numpy that tests compare the Go
// model against.
const Python = "/usr/bin/python3"

// xgbPredictScript reads a TSV of feature rows (a field that is empty or
// "nan" is missing) from stdin and prints XGBoost's own output for each
// under the model argv[1]: with argv[2] "prob" the probability, with
// "contribs" the pred_contribs row (features then bias, tab-separated);
// every value with repr, so no digit is lost.
const xgbPredictScript = `
import sys
import numpy as np
import xgboost as xgb
rows = [[float(f) if f.strip() not in ("", "nan") else np.nan for f in line.rstrip("\n").split("\t")]
        for line in sys.stdin if line.strip()]
bst = xgb.Booster()
bst.load_model(sys.argv[1])
d = xgb.DMatrix(np.array(rows, dtype=np.float64), missing=np.nan, feature_names=bst.feature_names)
if sys.argv[2] == "contribs":
    for r in bst.predict(d, pred_contribs=True):
        print("\t".join(repr(float(v)) for v in r))
else:
    for v in bst.predict(d):
        print(repr(float(v)))
`

// XGBoostPredict asks XGBoost itself (through Python) for the probabilities
// of the rows of tsv (one row a line, tab-separated, empty or "nan" for a
// missing value; blank lines are skipped) under modelFile. It skips t where
// Python is not installed and fails it when XGBoost fails.
func XGBoostPredict(t testing.TB, modelFile, tsv string) []float64 {
	t.Helper()
	var preds []float64
	for _, row := range xgboost(t, modelFile, "prob", tsv) {
		preds = append(preds, row...)
	}
	return preds
}

// XGBoostContribs asks XGBoost itself for the contributions of the rows of
// tsv (as XGBoostPredict reads them) under modelFile:
// bst.predict(DMatrix, pred_contribs=True), one row per input row, the
// features' contributions in the model's order then the bias last.
func XGBoostContribs(t testing.TB, modelFile, tsv string) [][]float64 {
	t.Helper()
	return xgboost(t, modelFile, "contribs", tsv)
}

// xgboost runs xgbPredictScript in mode and parses its lines of
// tab-separated numbers.
func xgboost(t testing.TB, modelFile, mode, tsv string) [][]float64 {
	t.Helper()
	abs, err := filepath.Abs(modelFile)
	check(t, err)
	out := RunPython(t, tsv, "-c", xgbPredictScript, abs, mode)
	var rows [][]float64
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		var row []float64
		for _, f := range strings.Split(line, "\t") {
			v, err := strconv.ParseFloat(f, 64)
			check(t, err)
			row = append(row, v)
		}
		rows = append(rows, row)
	}
	return rows
}

// RunPython runs Python with args and stdin and returns its standard
// output. It skips t where Python or its xgboost and numpy modules are not
// installed (Debian: apt-get install python3-xgboost) and fails t when the
// program fails, with its standard error.
func RunPython(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Skipf("no %s: %v", Python, err)
	}
	if out, err := exec.Command(Python, "-c", "import xgboost, numpy").CombinedOutput(); err != nil {
		t.Skipf("%s has no xgboost or numpy module (Debian: apt-get install python3-xgboost): %v: %s", Python, err, out)
	}
	cmd := exec.Command(Python, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("testenv: %s %.60q: %v\n%s", Python, args, err, stderr.String())
	}
	return string(out)
}

// XGBoostGoldenContribs is XGBoostContribs on golden rows (NaN = missing):
// XGBoost's own pred_contribs for each, in order.
func XGBoostGoldenContribs(t testing.TB, modelFile string, rows []fsmodel.GoldenRow) [][]float64 {
	t.Helper()
	var tsv strings.Builder
	for _, g := range rows {
		for j, x := range g.Features {
			if j > 0 {
				tsv.WriteByte('\t')
			}
			if !math.IsNaN(x) {
				tsv.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
			}
		}
		tsv.WriteByte('\n')
	}
	return XGBoostContribs(t, modelFile, tsv.String())
}
