package model

import (
	"errors"
	"math"
	"testing"
)

// FuzzContributions mutates the model fuzzers' seeds (LightGBM text and
// XGBoost JSON). Property: Contributions never panics; it fails only with
// ErrNoCovers, exactly when HasCovers is false; otherwise its finite
// results sum to the margin Predict uses.
func FuzzContributions(f *testing.F) {
	addLightGBMSeeds(f)
	addXGBoostSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(data)
		if err != nil || m.NumFeatures() > 4096 {
			return
		}
		n := m.NumFeatures()
		out := make([]float64, n+1)
		if err := m.Contributions(make([]float64, n+1), out); err == nil {
			t.Fatal("Contributions accepted a wrong length")
		}
		scale := math.Abs(m.shap.expected)
		for i := range m.shap.trees {
			mx := 0.0
			for _, v := range m.shap.trees[i].leafValue {
				mx = math.Max(mx, math.Abs(v))
			}
			scale += mx
		}
		for _, v := range []float64{0, math.NaN(), -1, 1, 1e300, math.Inf(-1), 3} {
			row := make([]float64, n)
			for i := range row {
				row[i] = v
			}
			err := m.Contributions(row, out)
			if !m.HasCovers() {
				if !errors.Is(err, ErrNoCovers) {
					t.Fatalf("no covers, Contributions = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Contributions(%v...) = %v", v, err)
			}
			raw := make([]float64, 1)
			if err := m.ens.Predict(row, 0, raw); err != nil {
				t.Fatal(err)
			}
			margin, sum := raw[0]+m.bias, 0.0
			for _, c := range out {
				sum += c
			}
			if math.IsNaN(sum) || math.IsInf(sum, 0) || math.IsInf(margin, 0) {
				continue
			}
			if d := math.Abs(sum - margin); d > 1e-6*(1+scale)*float64(n+1) {
				t.Fatalf("row %v...: contributions sum to %v, margin %v", v, sum, margin)
			}
		}
	})
}
