package training

import (
	"math"
	"slices"

	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// featureBaselines returns, per feature, the drift baseline stored in the
// metadata: bin edges at the quantiles k/bins (k = 1..bins-1) and the
// maximum of the training rows' present values, deduplicated (a discrete
// feature gets one bin per value or group of values), and the holdout rows
// counted per bin with drift.Bin, the rule the live windows use, missing
// values apart. A feature never present in training gets the single edge 0.
//
// Masked rows (Example.Masked: velocity aggregates removed on purpose, so
// the model copes with degraded velocity) count in neither the edges nor the
// counts: the baseline describes the traffic the model expects to serve,
// velocity computed, and a worker with velocity on would otherwise show the
// masked share as drift on every velocity feature for ever. Genuinely
// missing values (a device-less event's device features) still count as
// missing.
func featureBaselines(names []string, train, holdout []row, bins int) []modelstore.FeatureBaseline {
	out := make([]modelstore.FeatureBaseline, len(names))
	vals := make([]float64, 0, len(train))
	for j, name := range names {
		vals = vals[:0]
		for i := range train {
			if v := train[i].f[j]; !train[i].masked && !math.IsNaN(v) {
				vals = append(vals, v)
			}
		}
		fb := modelstore.FeatureBaseline{Feature: name, Edges: quantileEdges(vals, bins)}
		fb.Counts = make([]int, len(fb.Edges))
		for i := range holdout {
			if holdout[i].masked {
				continue
			}
			if b := drift.Bin(fb.Edges, holdout[i].f[j]); b < len(fb.Counts) {
				fb.Counts[b]++
			} else {
				fb.Missing++
			}
		}
		out[j] = fb
	}
	return out
}

// quantileEdges sorts vals and returns its quantiles k/bins for k = 1 to
// bins-1 and its maximum, without repeats; [0] when vals is empty.
func quantileEdges(vals []float64, bins int) []float64 {
	if len(vals) == 0 {
		return []float64{0}
	}
	slices.Sort(vals)
	edges := make([]float64, 0, bins)
	for k := 1; k < bins; k++ {
		edges = append(edges, vals[k*len(vals)/bins])
	}
	edges = append(edges, vals[len(vals)-1])
	return slices.Compact(edges)
}
