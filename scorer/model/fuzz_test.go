package model

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// checkLoad is the fuzz property: Load never panics; it either fails with
// ErrUnsupported or ErrCorrupt, or returns a model whose Predict works and
// yields a probability.
func checkLoad(t *testing.T, data []byte) {
	m, err := Load(data)
	if err != nil {
		if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("untyped error: %v", err)
		}
		if m != nil {
			t.Fatal("model returned with error")
		}
		return
	}
	n := m.NumFeatures()
	if n < 1 || n > MaxFeatures || m.NumTrees() < 1 {
		t.Fatalf("bad model: %d features, %d trees", n, m.NumTrees())
	}
	if n > 4096 {
		return
	}
	for _, v := range []float64{0, math.NaN(), -1, 1, 1e300, math.Inf(-1), 3} {
		row := make([]float64, n)
		for i := range row {
			row[i] = v
		}
		p, err := m.Predict(row)
		if err != nil || !(p >= 0 && p <= 1) {
			t.Fatalf("Predict(%v...) = %v, %v", v, p, err)
		}
	}
	if _, err := m.Predict(make([]float64, n+1)); err == nil {
		t.Fatal("Predict accepted a wrong length")
	}
}

func addSeeds(f *testing.F, paths ...string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzLoadLightGBM(f *testing.F) {
	addLightGBMSeeds(f)
	f.Fuzz(checkLoad)
}

func addLightGBMSeeds(f *testing.F) {
	addSeeds(f, "testdata/lgb_small_v3.txt", "testdata/lgb_small_categorical.txt",
		filepath.Join(leavesTestdata(f), "tree_3leaves.txt"))
	b, err := os.ReadFile("testdata/lgb_small_v3.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(b, []byte(v4ParserSection)...))
	f.Add([]byte("tree\nversion=v3\nnum_class=1\nmax_feature_idx=0\nobjective=binary sigmoid:1\n\nTree=0\nnum_leaves=1\nleaf_value=0.5\n\nend of trees\n"))
}

func FuzzLoadXGBoostJSON(f *testing.F) {
	addXGBoostSeeds(f)
	f.Fuzz(checkLoad)
}

func addXGBoostSeeds(f *testing.F) {
	addSeeds(f, "testdata/xgb_small.json", "testdata/xgb_small.model", "testdata/xgb_small.ubj")
	f.Add([]byte(`{"learner":{"gradient_booster":{"name":"gbtree","model":{"gbtree_model_param":{"num_trees":"1"},"tree_info":[0],"trees":[{"left_children":[-1],"right_children":[-1],"split_indices":[0],"split_conditions":[1E0],"default_left":[0]}]}},"learner_model_param":{"base_score":"[5E-1]","num_feature":"1"},"objective":{"name":"binary:logistic"}},"version":[3,1,0]}`))
}

// TestFuzzSeedsLoad makes sure the fuzz seeds are valid models, so the
// fuzzers start from inputs that reach validation and leaves.
func TestFuzzSeedsLoad(t *testing.T) {
	for _, p := range []string{"testdata/lgb_small_v3.txt", "testdata/lgb_small_categorical.txt", "testdata/xgb_small.json"} {
		m, err := LoadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		checkLoad(t, readFile(t, p))
		if p == "testdata/xgb_small.json" && len(m.FeatureNames()) != 3 {
			t.Fatalf("feature names %v", m.FeatureNames())
		}
	}
}
