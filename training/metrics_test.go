package training_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/fraudscore/fraudscore/training"
)

func TestROCAUC(t *testing.T) {
	cases := []struct {
		name           string
		scores, labels []float64
		want           float64
	}{
		// Pairs (pos, neg): 0.35>0.1 yes, 0.35>0.4 no, 0.8 beats both: 3/4.
		{"hand", []float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.75},
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []float64{0, 1, 0, 1}, 0.5},
		// 0.5(pos) beats 0.2, ties 0.5(neg) = 1.5; 0.9 beats both = 2: 3.5/4.
		{"tie across classes", []float64{0.2, 0.5, 0.5, 0.9}, []float64{0, 1, 0, 1}, 0.875},
		// 3 pos x 2 neg = 6 pairs: 0.7 beats 0.3 and 0.6 (2); 0.6(pos) ties
		// 0.6(neg) and beats 0.3 (1.5); 0.2 beats none (0): 3.5/6.
		{"order independent", []float64{0.6, 0.2, 0.3, 0.7, 0.6}, []float64{1, 1, 0, 1, 0}, 3.5 / 6},
		{"no positives", []float64{0.1, 0.2}, []float64{0, 0}, 0},
		{"no negatives", []float64{0.1, 0.2}, []float64{1, 1}, 0},
		{"empty", nil, nil, 0},
	}
	for _, c := range cases {
		assert.InDelta(t, c.want, training.ROCAUC(c.scores, c.labels), 1e-12, c.name)
	}
}

func TestPRAUC(t *testing.T) {
	cases := []struct {
		name           string
		scores, labels []float64
		want           float64
	}{
		// Ranked 0.8(+) 0.4(-) 0.35(+) 0.1(-): precision 1 at recall 1/2,
		// 2/3 at recall 1: 1/2*1 + 1/2*2/3.
		{"hand", []float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.5 + 1.0/3},
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}, 1},
		// Ranked -,-,+,+: precision 1/3 at recall 1/2, 2/4 at recall 1.
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0.5/3 + 0.5*0.5},
		// One tie group: a single step at precision 2/4 and recall 1.
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []float64{0, 1, 0, 1}, 0.5},
		// 0.9(+): precision 1 at recall 1/2; the 0.5 group {+,-} as one
		// threshold: precision 2/3 at recall 1.
		{"tie group", []float64{0.9, 0.5, 0.5, 0.2}, []float64{1, 1, 0, 0}, 0.5 + 0.5*2.0/3},
		{"no positives", []float64{0.1, 0.2}, []float64{0, 0}, 0},
		{"all positive", []float64{0.1, 0.2}, []float64{1, 1}, 1},
	}
	for _, c := range cases {
		assert.InDelta(t, c.want, training.PRAUC(c.scores, c.labels), 1e-12, c.name)
	}
}
