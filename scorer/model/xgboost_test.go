package model

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const python = "/usr/bin/python3"

// xgbFixtureState caches one run of testdata/xgb_parity.py per test binary.
var xgbFixtureState struct {
	once      sync.Once
	dir, skip string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if d := xgbFixtureState.dir; d != "" {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// xgbFixtures runs testdata/xgb_parity.py with the system XGBoost (once per
// test binary) and returns its output directory. It skips only when the
// xgboost Python module is missing.
func xgbFixtures(t testing.TB) string {
	t.Helper()
	s := &xgbFixtureState
	s.once.Do(func() {
		if out, err := exec.Command(python, "-c", "import xgboost, numpy").CombinedOutput(); err != nil {
			s.skip = fmt.Sprintf("XGBoost parity tests need %s with the xgboost and numpy modules (Debian: apt-get install python3-xgboost): %v: %s",
				python, err, out)
			return
		}
		if s.dir, s.err = os.MkdirTemp("", "xgb-parity-"); s.err != nil {
			return
		}
		out, err := exec.Command(python, "testdata/xgb_parity.py", s.dir).CombinedOutput()
		if err != nil {
			s.err = fmt.Errorf("xgb_parity.py: %v: %s", err, out)
		}
	})
	if s.skip != "" {
		t.Skip(s.skip)
	}
	require.NoError(t, s.err)
	return s.dir
}

func TestXGBoostParity(t *testing.T) {
	dir := xgbFixtures(t)
	for _, c := range []struct {
		name          string
		trees, depth  int
		names         bool
		naiveMisroute bool
	}{
		{"hist_d6_100", 100, 6, true, true},
		{"exact_d6_50", 50, 6, false, true},
		{"hist_d4_200_bs", 200, 4, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := readFile(t, filepath.Join(dir, c.name+".json"))
			m, err := Load(data)
			require.NoError(t, err)
			assert.Equal(t, FormatXGBoostJSON, m.Format())
			assert.Equal(t, 8, m.NumFeatures())
			assert.Equal(t, c.trees, m.NumTrees())
			if c.names {
				assert.Equal(t, []string{"amount_int", "delta", "z", "tenths", "expo", "flag", "tiny", "denormal"}, m.FeatureNames())
			} else {
				assert.Nil(t, m.FeatureNames())
			}
			x := readMatrix(t, filepath.Join(dir, c.name+"_X.txt"))
			p := readMatrix(t, filepath.Join(dir, c.name+"_pred.txt"))
			leaf := readMatrix(t, filepath.Join(dir, c.name+"_leaf.txt"))
			require.Len(t, x, 5000)
			require.Len(t, p, 5000)
			require.Len(t, leaf, 5000)
			nans := 0
			want := make([]float64, len(p))
			for i := range p {
				want[i] = p[i][0]
				for _, v := range x[i] {
					if math.IsNaN(v) {
						nans++
					}
				}
			}
			require.Greater(t, nans, 1000, "fixture must contain missing values")

			// Probabilities within 1e-6, inputs untouched.
			maxDiff := 0.0
			for i := range x {
				before := fmt.Sprint(x[i])
				got, err := m.Predict(x[i])
				require.NoError(t, err)
				maxDiff = math.Max(maxDiff, math.Abs(got-want[i]))
				require.Equal(t, before, fmt.Sprint(x[i]), "Predict modified its input")
			}
			t.Logf("max |diff| = %.3g over %d rows", maxDiff, len(x))
			require.NoError(t, m.CheckParity(goldenRows(x, want), DefaultParityTolerance))

			// Identical routing: every tree picks the leaf XGBoost picked.
			e, err := parseXGBoostJSON(data)
			require.NoError(t, err)
			leafEns := m.ens.EnsembleWithLeafPredictions()
			idx := make([]float64, len(e.trees))
			for i := range x {
				require.NoError(t, leafEns.Predict(x[i], 0, idx))
				for k := range e.trees {
					require.Equal(t, leaf[i][k], float64(e.trees[k].leafSource[int(idx[k])]),
						"row %d tree %d: leaves took a different leaf than XGBoost", i, k)
				}
			}

			// The crafted rows must matter: writing t itself as the
			// threshold (the naive conversion) misroutes some of them.
			naive := *e
			naive.trees = make([]tree, len(e.trees))
			for k, tr := range e.trees {
				tr.threshold = append([]float64(nil), tr.threshold...)
				for j, T := range tr.threshold {
					tr.threshold[j] = float64(math.Nextafter32(float32(T), float32(math.Inf(1))))
				}
				naive.trees[k] = tr
			}
			nm, err := naive.build(FormatXGBoostJSON)
			require.NoError(t, err)
			wrong := 0
			for i := range x {
				got, _ := nm.Predict(x[i])
				if math.Abs(got-want[i]) > DefaultParityTolerance {
					wrong++
				}
			}
			t.Logf("naive threshold conversion: %d of %d rows wrong", wrong, len(x))
			assert.Positive(t, wrong, "crafted boundary rows did not exercise the threshold conversion")
			err = nm.CheckParity(goldenRows(x, want), DefaultParityTolerance)
			require.ErrorIs(t, err, ErrParity)
			assert.Contains(t, err.Error(), fmt.Sprintf("%d of 5000 rows", wrong))
		})
	}
}

// TestXGBoostBaseScoreArray: XGBoost >= 3.1 writes base_score as "[5E-1]".
func TestXGBoostBaseScoreArray(t *testing.T) {
	// Hand-written model: one tree, x0 < 0.5 -> -1 else +1, NaN -> left.
	const tmpl = `{"learner":{"attributes":{},"feature_names":[],"feature_types":[],
"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1"},
"iteration_indptr":[0,1],"tree_info":[0],"trees":[{"base_weights":[0,0,0],"categories":[],
"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[1,0,0],"id":0,
"left_children":[1,-1,-1],"loss_changes":[1,0,0],"parents":[2147483647,0,0],"right_children":[2,-1,-1],
"split_conditions":[5E-1,-1E0,1E0],"split_indices":[0,0,0],"split_type":[0,0,0],"sum_hessian":[1,1,1],
"tree_param":{"num_deleted":"0","num_feature":"2","num_nodes":"3","size_leaf_vector":"1"}}]},"name":"gbtree"},
"learner_model_param":{"base_score":%q,"boost_from_average":"1","num_class":"0","num_feature":"2","num_target":"1"},
"objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[3,1,0]}`
	logit := math.Log(0.25 / 0.75)
	for _, bs := range []string{"[2.5E-1]", "2.5E-1"} {
		m, err := Load([]byte(fmt.Sprintf(tmpl, bs)))
		require.NoError(t, err, bs)
		assert.Nil(t, m.FeatureNames())
		for _, c := range []struct {
			x    []float64
			want float64
		}{
			{[]float64{0, 7}, sigmoidRef(logit - 1)},
			{[]float64{0.49999998, 7}, sigmoidRef(logit - 1)},  // float32 rounds below 0.5
			{[]float64{0.499999999, 7}, sigmoidRef(logit + 1)}, // float32 rounds to 0.5: right
			{[]float64{0.5, 7}, sigmoidRef(logit + 1)},
			{[]float64{math.NaN(), 7}, sigmoidRef(logit - 1)},
			{[]float64{math.Inf(1), 7}, sigmoidRef(logit + 1)},
			{[]float64{math.Inf(-1), 7}, sigmoidRef(logit - 1)},
		} {
			got, err := m.Predict(c.x)
			require.NoError(t, err)
			assert.InDelta(t, c.want, got, 1e-15, "base_score %s x=%v", bs, c.x)
		}
	}
	_, err := Load([]byte(fmt.Sprintf(tmpl, "[2.5E-1,3E-1]")))
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = Load([]byte(fmt.Sprintf(tmpl, "1.5")))
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestXGBoostRefusals(t *testing.T) {
	dir := xgbFixtures(t)
	good := string(readFile(t, filepath.Join(dir, "hist_d6_100.json")))
	cases := map[string]struct {
		data string
		err  error
		msg  string
	}{
		"dart":         {string(readFile(t, filepath.Join(dir, "dart.json"))), ErrUnsupported, "dart"},
		"gblinear":     {string(readFile(t, filepath.Join(dir, "gblinear.json"))), ErrUnsupported, "gblinear"},
		"logitraw":     {string(readFile(t, filepath.Join(dir, "logitraw.json"))), ErrUnsupported, `"binary:logitraw"`},
		"regression":   {string(readFile(t, filepath.Join(dir, "regression.json"))), ErrUnsupported, `"reg:squarederror"`},
		"multiclass":   {string(readFile(t, filepath.Join(dir, "multiclass.json"))), ErrUnsupported, ""},
		"categorical":  {strings.Replace(good, `"categories_nodes":[]`, `"categories_nodes":[0]`, 1), ErrUnsupported, "categorical"},
		"split_type":   {strings.Replace(good, `"split_type":[0,`, `"split_type":[1,`, 1), ErrUnsupported, "categorical"},
		"vector leaf":  {strings.Replace(good, `"size_leaf_vector":"0"}`, `"size_leaf_vector":"3"}`, 1), ErrUnsupported, "vector leaves"},
		"num_target":   {strings.Replace(good, `"num_target":"1"`, `"num_target":"2"`, 1), ErrUnsupported, "multi-target"},
		"version 4":    {strings.Replace(good, `"version":[1,7,4]`, `"version":[4,0,0]`, 1), ErrUnsupported, "version"},
		"feature idx":  {strings.Replace(good, `"num_feature":"8","num_target"`, `"num_feature":"2","num_target"`, 1), ErrCorrupt, ""},
		"child range":  {strings.Replace(good, `"left_children":[1,`, `"left_children":[100000,`, 1), ErrCorrupt, "outside"},
		"cycle":        {strings.Replace(good, `"left_children":[1,`, `"left_children":[0,`, 1), ErrCorrupt, "twice"},
		"lengths":      {strings.Replace(good, `"default_left":[`, `"default_left":[0,`, 1), ErrCorrupt, "default_left"},
		"num_trees":    {strings.Replace(good, `"num_trees":"100"`, `"num_trees":"99"`, 1), ErrCorrupt, "num_trees"},
		"truncated":    {good[:len(good)/2], ErrCorrupt, ""},
		"not a model":  {`{"hello":"world"}`, ErrUnsupported, "learner"},
		"nan leaf":     {strings.Replace(good, `"split_conditions":[`, `"split_conditions":["x",`, 1), ErrCorrupt, ""},
		"unknown text": {"hello world", ErrUnsupported, "unrecognised"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.NotEqual(t, good, c.data, "mutation did not apply")
			m, err := Load([]byte(c.data))
			require.Error(t, err)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, c.err)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}

// TestXGBoostBinaryRefused: legacy binary and UBJSON files saved by the real
// XGBoost are refused with a re-save hint, without reaching leaves' binary
// reader (which allocates ~60 GiB on such files).
func TestXGBoostBinaryRefused(t *testing.T) {
	dir := xgbFixtures(t)
	for _, name := range []string{"legacy.model", "raw.bin", "legacy.ubj"} {
		t.Run(name, func(t *testing.T) {
			data := readFile(t, filepath.Join(dir, name))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			m, err := Load(data)
			runtime.ReadMemStats(&after)
			assert.Nil(t, m)
			require.ErrorIs(t, err, ErrUnsupported)
			assert.Contains(t, err.Error(), `bst.save_model("model.json")`)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "refusal allocated too much")
		})
	}
	// The committed small fixtures too (they seed the fuzzers).
	for _, name := range []string{"xgb_small.model", "xgb_small.ubj"} {
		_, err := LoadFile(filepath.Join("testdata", name))
		require.ErrorIs(t, err, ErrUnsupported, name)
		assert.Contains(t, err.Error(), "re-save it as JSON")
	}
	_, err := os.Stat(filepath.Join("testdata", "xgb_small.json"))
	require.NoError(t, err)
}
