package model

import (
	"encoding/json"
	"fmt"
	"math"
)

// DefaultParityTolerance is the largest absolute probability difference
// CheckParity callers should normally accept.
const DefaultParityTolerance = 1e-6

// GoldenRow is one input row with the probability the training library
// predicted for it. In JSON, NaN (missing) features are encoded as null.
type GoldenRow struct {
	Features    []float64 `json:"features"`
	Probability float64   `json:"probability"`
}

type goldenRowJSON struct {
	Features    []*float64 `json:"features"`
	Probability *float64   `json:"probability"`
}

// MarshalJSON encodes NaN features as null. Infinite values are an error.
func (r GoldenRow) MarshalJSON() ([]byte, error) {
	out := goldenRowJSON{Features: make([]*float64, len(r.Features))}
	for i := range r.Features {
		if !math.IsNaN(r.Features[i]) {
			out.Features[i] = &r.Features[i]
		}
	}
	if r.Features == nil {
		out.Features = nil
	}
	if math.IsNaN(r.Probability) || math.IsInf(r.Probability, 0) {
		return nil, fmt.Errorf("golden row probability %v is not finite", r.Probability)
	}
	p := r.Probability
	out.Probability = &p
	return json.Marshal(out)
}

// UnmarshalJSON decodes null features as NaN. The probability is required.
func (r *GoldenRow) UnmarshalJSON(b []byte) error {
	var in goldenRowJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	if in.Probability == nil {
		return fmt.Errorf("golden row has no probability")
	}
	var feats []float64
	if in.Features != nil {
		feats = make([]float64, len(in.Features))
		for i, f := range in.Features {
			if f == nil {
				feats[i] = math.NaN()
			} else {
				feats[i] = *f
			}
		}
	}
	*r = GoldenRow{Features: feats, Probability: *in.Probability}
	return nil
}

// CheckParity predicts every row and compares with its golden probability.
// It fails (wrapping ErrParity) if there are no rows, or if any row cannot be
// predicted or differs by more than tol; the error names the first failing
// row, the expected and got values, and how many rows failed.
func (m *Model) CheckParity(rows []GoldenRow, tol float64) error {
	if !(tol >= 0) {
		return fmt.Errorf("parity tolerance %v must be >= 0: %w", tol, ErrParity)
	}
	if len(rows) == 0 {
		return fmt.Errorf("no golden rows to check: %w", ErrParity)
	}
	failed, first := 0, -1
	var firstErr error
	var firstWant, firstGot float64
	for i := range rows {
		got, err := m.Predict(rows[i].Features)
		want := rows[i].Probability
		if err == nil && math.Abs(got-want) <= tol {
			continue
		}
		failed++
		if first < 0 {
			first, firstErr, firstWant, firstGot = i, err, want, got
		}
	}
	if failed == 0 {
		return nil
	}
	if firstErr != nil {
		return fmt.Errorf("%d of %d rows failed; first failing row %d (expected %.17g): %v: %w",
			failed, len(rows), first, firstWant, firstErr, ErrParity)
	}
	return fmt.Errorf("%d of %d rows differ by more than %g; first failing row %d: expected %.17g, got %.17g (|diff| %.3g): %w",
		failed, len(rows), tol, first, firstWant, firstGot, math.Abs(firstGot-firstWant), ErrParity)
}

// DefaultContributionTolerance is the largest absolute difference per
// contribution (and bias) CheckContributions callers should normally accept:
// XGBoost computes pred_contribs in float32.
const DefaultContributionTolerance = 1e-5

// CheckContributions computes the contributions of every golden row and
// compares them with want, the training library's own (XGBoost's
// pred_contribs: features then bias), one entry per row. It fails (wrapping
// ErrParity) when want does not match rows in number or width, when a
// value differs by more than tol, or (wrapping ErrNoCovers too) when the
// model has no covers; the error names the first failing row and column.
func (m *Model) CheckContributions(rows []GoldenRow, want [][]float64, tol float64) error {
	if !(tol >= 0) {
		return fmt.Errorf("contribution tolerance %v must be >= 0: %w", tol, ErrParity)
	}
	if len(want) != len(rows) {
		return fmt.Errorf("%d golden contributions for %d golden rows: %w", len(want), len(rows), ErrParity)
	}
	out := make([]float64, m.numFeatures+1)
	failed, first, col := 0, -1, 0
	var firstWant, firstGot float64
	for i := range rows {
		if len(want[i]) != len(out) {
			return fmt.Errorf("golden contributions row %d has %d values, the model has %d features and a bias: %w", i, len(want[i]), m.numFeatures, ErrParity)
		}
		if err := m.Contributions(rows[i].Features, out); err != nil {
			return fmt.Errorf("golden row %d: %w: %w", i, err, ErrParity)
		}
		for j := range out {
			if math.Abs(out[j]-want[i][j]) <= tol {
				continue
			}
			if failed++; first < 0 {
				first, col, firstWant, firstGot = i, j, want[i][j], out[j]
			}
			break
		}
	}
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("contributions of %d of %d golden rows differ by more than %g; first failing row %d column %d: expected %.17g, got %.17g: %w",
		failed, len(rows), tol, first, col, firstWant, firstGot, ErrParity)
}
