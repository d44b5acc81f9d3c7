package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Python is the interpreter with xgboost and numpy that tests compare the Go
// model against.
const Python = "/usr/bin/python3"

// xgbPredictScript reads a TSV of feature rows (a field that is empty or
// "nan" is missing) from stdin and prints XGBoost's own probability for
// each with repr, so no digit is lost.
const xgbPredictScript = `
import sys
import numpy as np
import xgboost as xgb
rows = [[float(f) if f.strip() not in ("", "nan") else np.nan for f in line.rstrip("\n").split("\t")]
        for line in sys.stdin if line.strip()]
bst = xgb.Booster()
bst.load_model(sys.argv[1])
p = bst.predict(xgb.DMatrix(np.array(rows, dtype=np.float64), missing=np.nan, feature_names=bst.feature_names))
for v in p:
    print(repr(float(v)))
`

// XGBoostPredict asks XGBoost itself (through Python) for the probabilities
// of the rows of tsv (one row a line, tab-separated, empty or "nan" for a
// missing value; blank lines are skipped) under modelFile. It skips t where
// Python is not installed and fails it when XGBoost fails.
func XGBoostPredict(t testing.TB, modelFile, tsv string) []float64 {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Skipf("no %s: %v", Python, err)
	}
	abs, err := filepath.Abs(modelFile)
	check(t, err)
	cmd := exec.Command(Python, "-c", xgbPredictScript, abs)
	cmd.Stdin = strings.NewReader(tsv)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("testenv: xgboost: %v\n%s", err, stderr.String())
	}
	var preds []float64
	for _, f := range strings.Fields(string(out)) {
		p, err := strconv.ParseFloat(f, 64)
		check(t, err)
		preds = append(preds, p)
	}
	return preds
}
