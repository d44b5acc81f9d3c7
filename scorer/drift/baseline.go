package drift

import (
	"fmt"
	"math"

	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// Histogram is one baseline distribution: bin upper bounds and the count per
// bin, the missing bin last (len(Counts) == len(Edges)+1), binned by Bin.
type Histogram struct {
	Edges  []float64
	Counts []float64
}

// Baseline is what a model version's live traffic is compared with: the
// holdout score distribution and the holdout histogram of every feature,
// both stored in metadata.json at training time.
type Baseline struct {
	// Score is the holdout score distribution; its missing bin is 0.
	Score Histogram
	// Features maps a feature name to its holdout histogram.
	Features map[string]Histogram
}

// BaselineFrom reads the baseline stored in a version's metadata. Metadata
// without feature baselines gives a Baseline without Features, which
// NewMonitor refuses with ErrNoBaseline.
func BaselineFrom(meta modelstore.Metadata) Baseline {
	b := Baseline{Score: histogram(meta.HoldoutScores.Edges, meta.HoldoutScores.Counts, 0)}
	if len(meta.FeatureBaselines) > 0 {
		b.Features = make(map[string]Histogram, len(meta.FeatureBaselines))
		for _, f := range meta.FeatureBaselines {
			b.Features[f.Feature] = histogram(f.Edges, f.Counts, f.Missing)
		}
	}
	return b
}

func histogram(edges []float64, counts []int, missing int) Histogram {
	h := Histogram{Edges: edges, Counts: make([]float64, 0, len(counts)+1)}
	for _, c := range counts {
		h.Counts = append(h.Counts, float64(c))
	}
	h.Counts = append(h.Counts, float64(missing))
	return h
}

// check reports why h cannot serve as a baseline, or nil.
func (h Histogram) check() error {
	if len(h.Edges) == 0 || len(h.Edges) > MaxEdges {
		return fmt.Errorf("%d edges, want 1 to %d", len(h.Edges), MaxEdges)
	}
	if len(h.Counts) != len(h.Edges)+1 {
		return fmt.Errorf("%d counts for %d edges, want one per edge and one for missing values", len(h.Counts), len(h.Edges))
	}
	for i, e := range h.Edges {
		if math.IsNaN(e) || math.IsInf(e, 0) || (i > 0 && e <= h.Edges[i-1]) {
			return fmt.Errorf("edges must be finite, ascending and distinct: %v", h.Edges)
		}
	}
	var sum float64
	for _, c := range h.Counts {
		if !(c >= 0) || math.IsInf(c, 0) {
			return fmt.Errorf("counts must be finite and not negative: %v", h.Counts)
		}
		sum += c
	}
	if sum == 0 {
		return fmt.Errorf("no rows counted")
	}
	return nil
}
