// Package model loads gradient-boosted tree models (LightGBM text and
// XGBoost JSON), evaluates them with github.com/dmitryikh/leaves, and
// explains a prediction with exact TreeSHAP contributions from the file's
// node covers (treeshap.go; see docs/adr/0015-treeshap-reason-codes.md).
//
// A model file is untrusted input. Every structure is validated (array
// lengths, child indices, feature indices, reachability, absence of cycles,
// size limits) before anything is handed to leaves, and leaves only ever
// sees a canonical LightGBM v3 text produced by this package from the
// validated trees. See docs/adr/0003-model-formats.md.
package model

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"

	"github.com/dmitryikh/leaves"
)

// Format identifies the on-disk format a model was loaded from.
type Format string

const (
	// FormatLightGBM is LightGBM's text model format (model.save_model), versions v2, v3 and v4.
	FormatLightGBM Format = "lightgbm-text"
	// FormatXGBoostJSON is XGBoost's JSON model format (bst.save_model("model.json")), XGBoost 1.x to 3.x.
	FormatXGBoostJSON Format = "xgboost-json"
)

// Errors returned (wrapped) by this package. Test with errors.Is.
var (
	// ErrUnsupported reports a model format or model feature this package refuses to run.
	ErrUnsupported = errors.New("unsupported model")
	// ErrCorrupt reports a model file that is malformed or structurally inconsistent.
	ErrCorrupt = errors.New("corrupt model")
	// ErrParity reports predictions that disagree with golden rows.
	ErrParity = errors.New("model parity check failed")
)

// Limits applied before allocating anything proportional to declared sizes.
const (
	// MaxModelBytes is the largest model file accepted. Parsing holds up to
	// ~25x the file size at its peak (line and number slices), so 64 MiB
	// keeps a load under ~1.6 GiB; fraudscore's models are a few hundred KiB.
	MaxModelBytes = 64 << 20
	// MaxTrees is the largest number of trees accepted.
	MaxTrees = 1 << 20
	// MaxLeavesPerTree is the largest number of leaves accepted in one tree.
	MaxLeavesPerTree = 1 << 20
	// MaxFeatures is the largest number of input features accepted.
	MaxFeatures = 1 << 20
)

// Model is a loaded binary-classification tree ensemble. It is read-only
// after Load and safe for concurrent use.
type Model struct {
	format       Format
	ens          *leaves.Ensemble
	numFeatures  int
	featureNames []string
	numTrees     int
	bias         float64 // margin added to the tree sum (XGBoost base_score)
	// out holds *[1]float64 result buffers for leaves: leaves'
	// PredictSingle moves its result array to the heap on every call.
	out sync.Pool
	// shap computes contributions (treeshap.go).
	shap *explainer
}

// Load parses a model, detecting its format from the content.
func Load(data []byte) (*Model, error) {
	if len(data) > MaxModelBytes {
		return nil, fmt.Errorf("model is %d bytes, more than the %d byte limit: %w", len(data), MaxModelBytes, ErrUnsupported)
	}
	f, err := detect(data)
	if err != nil {
		return nil, err
	}
	var e *ensemble
	switch f {
	case FormatLightGBM:
		e, err = parseLightGBM(data)
	case FormatXGBoostJSON:
		e, err = parseXGBoostJSON(data)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s model: %w", f, err)
	}
	m, err := e.build(f)
	if err != nil {
		return nil, fmt.Errorf("load %s model: %w", f, err)
	}
	return m, nil
}

// LoadFile reads and parses the model file at path (see Load).
func LoadFile(path string) (*Model, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", path, err)
	}
	m, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// build validates the ensemble and hands its canonical LightGBM text to leaves.
func (e *ensemble) build(f Format) (*Model, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	text := e.lightGBMText()
	ens, err := leaves.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(text)), false)
	if err != nil {
		// Should not happen: the text was generated from validated trees.
		return nil, fmt.Errorf("leaves rejected the converted model: %v: %w", err, ErrCorrupt)
	}
	// leaves reports max_feature_idx as the feature count, which is 0 for a
	// one-feature model: compare with at least 1.
	if ens.NEstimators() != len(e.trees) || max(ens.NFeatures(), 1) != e.numFeatures || ens.NOutputGroups() != 1 {
		return nil, fmt.Errorf("leaves loaded %d trees/%d features, want %d/%d: %w",
			ens.NEstimators(), ens.NFeatures(), len(e.trees), e.numFeatures, ErrCorrupt)
	}
	var names []string
	if len(e.featureNames) > 0 {
		names = append([]string(nil), e.featureNames...)
	}
	m := &Model{
		format:       f,
		ens:          ens,
		numFeatures:  e.numFeatures,
		featureNames: names,
		numTrees:     len(e.trees),
		bias:         e.bias,
		shap:         newExplainer(e),
	}
	m.out.New = func() any { return new([1]float64) }
	return m, nil
}

// Format returns the format the model was loaded from.
func (m *Model) Format() Format { return m.format }

// NumFeatures returns the number of features Predict expects.
func (m *Model) NumFeatures() int { return m.numFeatures }

// FeatureNames returns a copy of the feature names stored in the model file,
// or nil if the file stores none.
func (m *Model) FeatureNames() []string {
	if m.featureNames == nil {
		return nil
	}
	return append([]string(nil), m.featureNames...)
}

// NumTrees returns the number of trees in the ensemble.
func (m *Model) NumTrees() int { return m.numTrees }

// Predict returns the positive-class probability for one row. NaN marks a
// missing value. It fails if len(features) != NumFeatures(). It does not
// modify features and does not allocate.
func (m *Model) Predict(features []float64) (float64, error) {
	if len(features) != m.numFeatures {
		return 0, fmt.Errorf("model expects %d features, got %d", m.numFeatures, len(features))
	}
	out := m.out.Get().(*[1]float64)
	err := m.ens.Predict(features, 0, out[:])
	raw := out[0] + m.bias
	m.out.Put(out)
	if err != nil {
		return 0, fmt.Errorf("predict: %w", err)
	}
	return sigmoid(raw), nil
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
