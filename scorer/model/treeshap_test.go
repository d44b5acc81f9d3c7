package model

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bruteShapley computes the exact Shapley values of the path-dependent game
// v(S) = E[f(x) | x_S] over all subsets S of the n features, straight from
// the definition: v(S) follows x's branch at a split on a feature in S and
// the cover-weighted average of both branches otherwise. It returns the
// features' values and v(empty set), the bias.
func bruteShapley(e *ensemble, x []float64) ([]float64, float64) {
	n := e.numFeatures
	v := make([]float64, 1<<n)
	for s := range v {
		v[s] = e.bias
		for i := range e.trees {
			t := &e.trees[i]
			if t.numLeaves == 1 {
				v[s] += t.leafValue[0]
				continue
			}
			var eval func(c int64) float64
			eval = func(c int64) float64 {
				if c < 0 {
					return t.leafValue[^c]
				}
				if s&(1<<t.splitFeature[c]) != 0 {
					if t.goesLeft(c, x[t.splitFeature[c]]) {
						return eval(t.left[c])
					}
					return eval(t.right[c])
				}
				l, r := t.left[c], t.right[c]
				return (t.cover(l)*eval(l) + t.cover(r)*eval(r)) / t.internalCover[c]
			}
			v[s] += eval(0)
		}
	}
	fact := func(k int) float64 { return math.Gamma(float64(k + 1)) }
	phi := make([]float64, n)
	for i := 0; i < n; i++ {
		for s := range v {
			if s&(1<<i) != 0 {
				continue
			}
			k := popcount(s)
			w := fact(k) * fact(n-k-1) / fact(n)
			phi[i] += w * (v[s|1<<i] - v[s])
		}
	}
	return phi, v[0]
}

func popcount(s int) int {
	c := 0
	for ; s != 0; s &= s - 1 {
		c++
	}
	return c
}

// randomTree grows a random tree of up to depth levels over n features with
// covers that add up (children sum to their parent), NaN defaults on both
// sides and, when cat is true, a categorical split at the root.
func randomTree(r *rand.Rand, n, depth int, cat bool) tree {
	t := tree{}
	var grow func(d int, cover float64) int64
	grow = func(d int, cover float64) int64 {
		if d == depth || (d > 0 && r.IntN(4) == 0) {
			t.leafValue = append(t.leafValue, r.NormFloat64())
			t.leafCover = append(t.leafCover, cover)
			return ^int64(len(t.leafValue) - 1)
		}
		id := int64(len(t.splitFeature))
		dt := int64(dtMissingNaN)
		if r.IntN(2) == 0 {
			dt |= dtDefaultLeft
		}
		th := float64(r.IntN(5)) - 2
		if cat && id == 0 {
			dt, th = dtCategorical|dtMissingNaN, 0
			t.numCat, t.catBoundaries, t.catThreshold = 1, []int64{0, 1}, []int64{0b1010}
		}
		t.splitFeature = append(t.splitFeature, int64(r.IntN(n)))
		t.threshold = append(t.threshold, th)
		t.decisionType = append(t.decisionType, dt)
		t.internalCover = append(t.internalCover, cover)
		t.left = append(t.left, 0)
		t.right = append(t.right, 0)
		share := 0.05 + 0.9*r.Float64()
		l := grow(d+1, cover*share)
		rt := grow(d+1, cover*(1-share))
		t.left[id], t.right[id] = l, rt
		return id
	}
	grow(0, 1000)
	t.numLeaves = len(t.leafValue)
	return t
}

// TestContributionsBruteForce: on random small ensembles (features split on
// several times on a path, missing values, categorical splits, single-leaf
// trees, leaves with zero cover) Contributions equals the Shapley values computed over every subset.
func TestContributionsBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 15))
	for trial := 0; trial < 60; trial++ {
		n := 1 + r.IntN(5)
		e := &ensemble{numFeatures: n, bias: r.NormFloat64()}
		for k := 0; k < 1+r.IntN(4); k++ {
			tr := randomTree(r, n, 1+r.IntN(6), k == 0 && trial%3 == 0)
			if trial%4 == 0 { // a leaf no training row reached
				tr.leafCover[r.IntN(tr.numLeaves)] = 0
			}
			e.trees = append(e.trees, tr)
		}
		if trial%5 == 0 {
			e.trees = append(e.trees, tree{numLeaves: 1, leafValue: []float64{0.25}})
		}
		m, err := e.build(FormatLightGBM)
		require.NoError(t, err)
		require.True(t, m.HasCovers())
		out := make([]float64, n+1)
		for row := 0; row < 20; row++ {
			x := make([]float64, n)
			for j := range x {
				switch r.IntN(6) {
				case 0:
					x[j] = math.NaN()
				case 1:
					x[j] = float64(r.IntN(5) - 2) // on a threshold
				default:
					x[j] = 3 * r.NormFloat64()
				}
			}
			require.NoError(t, m.Contributions(x, out))
			phi, bias := bruteShapley(e, x)
			for j := range phi {
				require.InDelta(t, phi[j], out[j], 1e-12, "trial %d row %v feature %d", trial, x, j)
			}
			// The recursion too (Contributions used the leaf tables).
			require.Equal(t, len(e.trees), tabled(m))
			rec := recursionContributions(m, x)
			for j := range phi {
				require.InDelta(t, phi[j], rec[j], 1e-12, "recursion: trial %d row %v feature %d", trial, x, j)
			}
			require.InDelta(t, bias, out[n], 1e-12, "trial %d bias", trial)
			assertSumsToMargin(t, m, x, out)
		}
	}
}

func assertSumsToMargin(t *testing.T, m *Model, x, out []float64) {
	t.Helper()
	margin := m.bias
	raw := make([]float64, 1)
	require.NoError(t, m.ens.Predict(x, 0, raw))
	margin += raw[0]
	sum := 0.0
	for _, v := range out {
		sum += v
	}
	require.InDelta(t, margin, sum, 1e-9, "row %v: contributions do not sum to the margin", x)
}

// TestContributionsLightGBM: leaves' breast-cancer model (LightGBM text with
// internal_count and leaf_count, 39 trees) has covers, and its
// contributions sum to the margin on every row. leaves' testdata has no
// pred_contrib reference to compare with.
func TestContributionsLightGBM(t *testing.T) {
	dir := leavesTestdata(t)
	m, err := LoadFile(filepath.Join(dir, "lg_breast_cancer.txt"))
	require.NoError(t, err)
	require.True(t, m.HasCovers())
	x := readMatrix(t, filepath.Join(dir, "lg_breast_cancer_data.txt"))
	out := make([]float64, m.NumFeatures()+1)
	nonzero := 0
	for _, row := range x {
		require.NoError(t, m.Contributions(row, out))
		assertSumsToMargin(t, m, row, out)
		for _, v := range out[:m.NumFeatures()] {
			if v != 0 {
				nonzero++
			}
		}
	}
	require.Positive(t, nonzero)
	// The categorical fixture too.
	m, err = LoadFile(filepath.Join("testdata", "lgb_small_categorical.txt"))
	require.NoError(t, err)
	require.True(t, m.HasCovers())
	row := make([]float64, m.NumFeatures())
	out = make([]float64, m.NumFeatures()+1)
	for _, v := range []float64{0, 1, 2, 5, math.NaN(), -1} {
		for i := range row {
			row[i] = v
		}
		require.NoError(t, m.Contributions(row, out))
		assertSumsToMargin(t, m, row, out)
	}
}

// TestContributionsNoCovers: a file without covers loads and predicts, and
// Contributions says why it cannot explain.
func TestContributionsNoCovers(t *testing.T) {
	var kept []string // lgb_small_v3.txt without internal_count: leaf_count alone is not enough
	for _, l := range strings.Split(string(readFile(t, filepath.Join("testdata", "lgb_small_v3.txt"))), "\n") {
		if !strings.HasPrefix(l, "internal_count=") {
			kept = append(kept, l)
		}
	}
	lgb, err := Load([]byte(strings.Join(kept, "\n")))
	require.NoError(t, err)
	xgbJSON := string(readFile(t, filepath.Join("testdata", "xgb_small.json")))
	i := strings.Index(xgbJSON, `"sum_hessian":`)
	require.Positive(t, i)
	for i >= 0 {
		j := strings.Index(xgbJSON[i:], "],") + i + 2
		xgbJSON = xgbJSON[:i] + xgbJSON[j:]
		i = strings.Index(xgbJSON, `"sum_hessian":`)
	}
	xgbm, err := Load([]byte(xgbJSON))
	require.NoError(t, err)
	for _, m := range []*Model{lgb, xgbm} {
		assert.False(t, m.HasCovers())
		x := make([]float64, m.NumFeatures())
		_, err := m.Predict(x)
		require.NoError(t, err)
		err = m.Contributions(x, make([]float64, m.NumFeatures()+1))
		require.ErrorIs(t, err, ErrNoCovers)
		assert.Contains(t, err.Error(), "no covers")
	}
}

// TestCoversValidated: covers of the wrong length or with impossible values
// make the file corrupt.
func TestCoversValidated(t *testing.T) {
	good := string(readFile(t, filepath.Join("testdata", "xgb_small.json")))
	i := strings.Index(good, `"sum_hessian":[`) + len(`"sum_hessian":[`)
	for name, data := range map[string]string{
		"negative": good[:i] + "-1," + good[strings.Index(good[i:], ",")+i+1:],
		"length":   good[:i] + "1," + good[i:],
		"nan":      good[:i] + `"x",` + good[strings.Index(good[i:], ",")+i+1:],
	} {
		_, err := Load([]byte(data))
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
	lgb := string(readFile(t, filepath.Join("testdata", "lgb_small_v3.txt")))
	for name, data := range map[string]string{
		"lgb zero internal": strings.Replace(lgb, "internal_count=", "internal_count=0 ", 1),
		"lgb short":         strings.Replace(lgb, "leaf_count=", "leaf_count=1 ", 1),
	} {
		_, err := Load([]byte(data))
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
}

func TestContributionsBadArguments(t *testing.T) {
	m, err := LoadFile(filepath.Join("testdata", "xgb_small.json"))
	require.NoError(t, err)
	require.True(t, m.HasCovers())
	require.Error(t, m.Contributions(make([]float64, 2), make([]float64, 4)))
	require.Error(t, m.Contributions(make([]float64, 3), make([]float64, 3)))
	require.NoError(t, m.Contributions([]float64{1, math.NaN(), 3}, make([]float64, 4)))
}

// TestContributionsConcurrent explains from many goroutines at once
// (meaningful under -race): every goroutine gets the serial answer.
func TestContributionsConcurrent(t *testing.T) {
	dir := leavesTestdata(t)
	m, err := LoadFile(filepath.Join(dir, "lg_breast_cancer.txt"))
	require.NoError(t, err)
	x := readMatrix(t, filepath.Join(dir, "lg_breast_cancer_data.txt"))[:50]
	want := make([][]float64, len(x))
	for i := range x {
		want[i] = make([]float64, m.NumFeatures()+1)
		require.NoError(t, m.Contributions(x[i], want[i]))
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]float64, m.NumFeatures()+1)
			for i := range x {
				if err := m.Contributions(x[i], out); err != nil {
					t.Error(err)
					return
				}
				for j := range out {
					if out[j] != want[i][j] {
						t.Errorf("row %d feature %d: %v, serially %v", i, j, out[j], want[i][j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// leafOf follows goesLeft from the root of t to a leaf index.
func leafOf(t *tree, x []float64) int {
	if t.numLeaves == 1 {
		return 0
	}
	c := int64(0)
	for c >= 0 {
		if t.goesLeft(c, x[t.splitFeature[c]]) {
			c = t.left[c]
		} else {
			c = t.right[c]
		}
	}
	return int(^c)
}

// TestRoutingMatchesLeaves: the branch TreeSHAP calls hot is the one leaves
// takes when predicting, on LightGBM models with categorical splits,
// missing types and rows of NaN, zero, negative, huge and on-threshold
// values.
func TestRoutingMatchesLeaves(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range []string{filepath.Join("testdata", "lgb_small_categorical.txt"), filepath.Join(leavesTestdata(t), "lg_breast_cancer.txt")} {
		data := readFile(t, p)
		e, err := parseLightGBM(data)
		require.NoError(t, err)
		m, err := e.build(FormatLightGBM)
		require.NoError(t, err)
		leafEns := m.ens.EnsembleWithLeafPredictions()
		idx := make([]float64, len(e.trees))
		x := make([]float64, e.numFeatures)
		for row := 0; row < 2000; row++ {
			for j := range x {
				switch r.IntN(8) {
				case 0:
					x[j] = math.NaN()
				case 1:
					x[j] = 0
				case 2:
					x[j] = -float64(r.IntN(3))
				case 3:
					x[j] = 1e300
				case 4: // a threshold of some node splitting on j, or a category
					tr := &e.trees[r.IntN(len(e.trees))]
					if len(tr.threshold) > 0 {
						x[j] = tr.threshold[r.IntN(len(tr.threshold))]
					}
				default:
					x[j] = float64(r.IntN(60)) * r.Float64() * 10
				}
			}
			require.NoError(t, leafEns.Predict(x, 0, idx))
			for k := range e.trees {
				require.Equal(t, int(idx[k]), leafOf(&e.trees[k], x), "%s row %d tree %d", p, row, k)
			}
		}
	}
}

// TestContributionsTooDeep: a tree deeper than MaxExplainDepth predicts but
// is not explained.
func TestContributionsTooDeep(t *testing.T) {
	const depth = MaxExplainDepth + 1
	tr := chainTree(depth, 1)
	m, err := (&ensemble{numFeatures: 1, trees: []tree{tr}}).build(FormatLightGBM)
	require.NoError(t, err)
	p, err := m.Predict([]float64{1000})
	require.NoError(t, err)
	require.InDelta(t, sigmoidRef(depth), p, 1e-12)
	assert.False(t, m.HasCovers())
	err = m.Contributions([]float64{1000}, make([]float64, 2))
	require.ErrorIs(t, err, ErrNoCovers)
	assert.Contains(t, err.Error(), "deep")
}

// tabled counts the trees with leaf tables (single-leaf trees count: they
// need none).
func tabled(m *Model) int {
	n := 0
	for i := range m.shap.trees {
		if m.shap.trees[i].numLeaves == 1 || m.shap.tables[i].leaves != nil {
			n++
		}
	}
	return n
}

// recursionContributions runs the per-row recursion (not the leaf tables).
func recursionContributions(m *Model, x []float64) []float64 {
	maxd := MaxExplainDepth + 2
	w := &shapWork{path: make([]pathElem, maxd*(maxd+1)/2), decisions: make([]bool, m.shap.maxNodes)}
	phi := make([]float64, m.numFeatures)
	m.shap.contribute(x, phi, w, false)
	return phi
}

// TestTablesMatchRecursion: the leaf tables give the recursion's
// contributions on real models (LightGBM leaf-wise trees, categorical
// splits), and a model beyond the tables' limits falls back to the
// recursion.
func TestTablesMatchRecursion(t *testing.T) {
	dir := leavesTestdata(t)
	for _, p := range []string{filepath.Join(dir, "lg_breast_cancer.txt"), filepath.Join("testdata", "lgb_small_categorical.txt"), filepath.Join("testdata", "xgb_small.json")} {
		m, err := LoadFile(p)
		require.NoError(t, err)
		require.Positive(t, tabled(m), p)
		t.Logf("%s: %d of %d trees tabled", p, tabled(m), m.NumTrees())
		rows := [][]float64{make([]float64, m.NumFeatures())}
		if p == filepath.Join(dir, "lg_breast_cancer.txt") {
			rows = readMatrix(t, filepath.Join(dir, "lg_breast_cancer_data.txt"))
		}
		out := make([]float64, m.NumFeatures()+1)
		for _, x := range rows {
			require.NoError(t, m.Contributions(x, out))
			rec := recursionContributions(m, x)
			for j := range rec {
				require.InDelta(t, rec[j], out[j], 1e-12, "%s feature %d", p, j)
			}
		}
	}
	// 12 features on one path: more than maxTableFeatures.
	const depth = maxTableFeatures + 2
	tr := chainTree(depth, depth)
	m, err := (&ensemble{numFeatures: depth, trees: []tree{tr}}).build(FormatLightGBM)
	require.NoError(t, err)
	require.True(t, m.HasCovers())
	require.Zero(t, tabled(m))
	x := make([]float64, depth)
	for i := range x {
		x[i] = 1
	}
	out := make([]float64, depth+1)
	require.NoError(t, m.Contributions(x, out))
	assertSumsToMargin(t, m, x, out)
}

// chainTree is a tree of depth internal nodes in a chain: node i splits on
// feature i mod features at threshold i, its left child is leaf i (value
// i), its right child node i+1, the last one's leaf depth; every leaf has
// cover 1.
func chainTree(depth, features int) tree {
	tr := tree{numLeaves: depth + 1}
	for i := 0; i < depth; i++ {
		tr.splitFeature = append(tr.splitFeature, int64(i%features))
		tr.threshold = append(tr.threshold, float64(i))
		tr.decisionType = append(tr.decisionType, dtMissingNaN)
		tr.left = append(tr.left, ^int64(i))
		next := int64(i + 1)
		if i == depth-1 {
			next = ^int64(depth)
		}
		tr.right = append(tr.right, next)
		tr.internalCover = append(tr.internalCover, float64(depth+1-i))
	}
	for i := 0; i <= depth; i++ {
		tr.leafValue = append(tr.leafValue, float64(i))
		tr.leafCover = append(tr.leafCover, 1)
	}
	return tr
}
