package scorer_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// xgboostPredict asks XGBoost itself for the probabilities of rows under
// the model file (NaN = missing).
func xgboostPredict(tb testing.TB, modelFile string, rows [][]float64) []float64 {
	tb.Helper()
	var in strings.Builder
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
	preds := testenv.XGBoostPredict(tb, modelFile, in.String())
	require.Len(tb, preds, len(rows))
	return preds
}
