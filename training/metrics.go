package training

import (
	"math"
	"slices"

	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// ROCAUC is the area under the ROC curve, with ties counted half.
func ROCAUC(scores, labels []float64) float64 {
	idx := order(scores)
	var pos, neg, area, tiePos, tieNeg float64
	for i := 0; i < len(idx); {
		j := i
		tiePos, tieNeg = 0, 0
		for ; j < len(idx) && scores[idx[j]] == scores[idx[i]]; j++ {
			if labels[idx[j]] == 1 {
				tiePos++
			} else {
				tieNeg++
			}
		}
		// idx is ascending: every positive in this tie group outranks the
		// negatives seen so far, and half of the tied negatives.
		area += tiePos * (neg + tieNeg/2)
		pos += tiePos
		neg += tieNeg
		i = j
	}
	if pos == 0 || neg == 0 {
		return 0
	}
	return area / (pos * neg)
}

// PRAUC is the average precision (area under the precision-recall curve by
// the step rule), ranking from the highest score down.
func PRAUC(scores, labels []float64) float64 {
	idx := order(scores)
	slices.Reverse(idx)
	var total float64
	for _, l := range labels {
		total += l
	}
	if total == 0 {
		return 0
	}
	var tp, fp, ap float64
	for i := 0; i < len(idx); {
		j := i
		var gp float64
		for ; j < len(idx) && scores[idx[j]] == scores[idx[i]]; j++ {
			if labels[idx[j]] == 1 {
				gp++
			} else {
				fp++
			}
		}
		tp += gp
		ap += gp / total * tp / (tp + fp)
		i = j
	}
	return ap
}

func order(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	return idx
}

// chooseThresholds picks the decline threshold as the lowest score at which
// holdout precision is still at least 90% (a decline is costly: a good
// customer is refused), and the review threshold so that review plus decline
// take about 2% of traffic (what a fraud-ops team can look at), never above
// the decline threshold.
func chooseThresholds(preds, labels []float64) modelstore.Thresholds {
	idx := order(preds)
	slices.Reverse(idx)
	decline := 0.9
	var tp, fp float64
	for k, i := range idx {
		if labels[i] == 1 {
			tp++
		} else {
			fp++
		}
		if k+1 < len(idx) && preds[idx[k+1]] == preds[i] {
			continue
		}
		if tp+fp >= 5 && tp/(tp+fp) >= 0.9 {
			decline = preds[i]
		}
	}
	review := decline / 2
	if n := len(idx) * 2 / 100; n > 0 && n < len(idx) {
		if r := preds[idx[n]]; r < decline {
			review = r
		}
	}
	return modelstore.Thresholds{Review: round6(review), Decline: round6(decline)}
}

func round6(x float64) float64 {
	r := math.Floor(x*1e6) / 1e6
	if r <= 0 {
		return 1e-6
	}
	return r
}

func holdoutMetrics(preds, labels []float64, th modelstore.Thresholds) modelstore.Metrics {
	m := modelstore.Metrics{ROCAUC: ROCAUC(preds, labels), PRAUC: PRAUC(preds, labels), Rows: len(preds)}
	var pos, dTP, dAll, rTP, rAll float64
	for i, p := range preds {
		pos += labels[i]
		if p >= th.Decline {
			dAll++
			dTP += labels[i]
		} else if p >= th.Review {
			rAll++
			rTP += labels[i]
		}
	}
	n := float64(len(preds))
	m.FraudRate = pos / n
	if dAll > 0 {
		m.PrecisionAtDecline = dTP / dAll
	}
	if pos > 0 {
		m.RecallAtDecline = dTP / pos
		m.RecallAtReview = (dTP + rTP) / pos
	}
	m.ReviewRate = rAll / n
	m.DeclineRate = dAll / n
	return m
}

func distribution(preds []float64) modelstore.Distribution {
	s := slices.Clone(preds)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	d := modelstore.Distribution{
		Quantiles: map[string]float64{"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99.9": q(0.999)},
		Edges:     []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1},
	}
	d.Counts = make([]int, len(d.Edges))
	for _, p := range s {
		if b := drift.Bin(d.Edges, p); b < len(d.Counts) {
			d.Counts[b]++
		}
	}
	return d
}
