package model

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// ErrNoCovers reports a model whose file has no node covers, so exact
// contributions cannot be computed. Such a model still predicts.
var ErrNoCovers = errors.New("model: no node covers: contributions unavailable")

// MaxExplainDepth is the deepest tree Contributions explains. The TreeSHAP
// workspace grows with the square of the depth (528 path entries at depth 30);
// a model with a deeper tree predicts but has no contributions.
const MaxExplainDepth = 256

// pathElem is one feature on the unique path of TreeSHAP (Lundberg et al.
// 2018, Algorithm 2): the fraction of "zero" paths (feature not in the
// coalition: cover-weighted) and "one" paths (feature in it: the row's
// branch) that flow through, and the permutation weight.
type pathElem struct {
	feature            int64 // -1 at the root
	zero, one, pweight float64
}

// explainer holds what Contributions needs beside leaves' ensemble: the
// validated trees with their covers and the expected value.
type explainer struct {
	trees []tree
	// expected is the bias term: every tree's cover-weighted mean leaf value
	// plus the base margin.
	expected float64
	// err is nil when contributions are available, else wraps ErrNoCovers.
	err error
	// tables are the trees' leaf tables (treeshap_table.go); a tree
	// without them is explained by the recursion.
	tables []treeTable
	// work holds *shapWork: a path of pathLen elements for the recursion,
	// maxNodes split decisions for the tables.
	work              sync.Pool
	pathLen, maxNodes int
}

type shapWork struct {
	path      []pathElem
	decisions []bool
}

// newExplainer prepares TreeSHAP over the validated ensemble e. A model
// without usable covers gets an explainer whose err says why.
func newExplainer(e *ensemble) *explainer {
	x := &explainer{trees: e.trees, expected: e.bias}
	maxDepth := 0
	for i := range e.trees {
		t := &e.trees[i]
		if t.numLeaves == 1 {
			x.expected += t.leafValue[0]
			continue
		}
		if t.internalCover == nil {
			x.err = fmt.Errorf("tree %d has no covers: %w", i, ErrNoCovers)
			return x
		}
		d := t.depth()
		if d > MaxExplainDepth {
			x.err = fmt.Errorf("tree %d is %d deep, more than the %d TreeSHAP explains: %w", i, d, MaxExplainDepth, ErrNoCovers)
			return x
		}
		maxDepth = max(maxDepth, d)
		x.maxNodes = max(x.maxNodes, t.numLeaves-1)
		x.expected += t.meanValue(0)
	}
	x.tables = buildTables(e.trees)
	maxd := maxDepth + 2
	x.pathLen = maxd * (maxd + 1) / 2
	x.work.New = func() any {
		return &shapWork{path: make([]pathElem, x.pathLen), decisions: make([]bool, x.maxNodes)}
	}
	return x
}

// HasCovers reports whether the model file had node covers, that is whether
// Contributions works.
func (m *Model) HasCovers() bool { return m.shap.err == nil }

// Contributions computes the exact Shapley values of one row with
// path-dependent TreeSHAP (Lundberg, Erion, Lee 2018, Algorithm 2) over the
// validated trees, weighting branches by the file's node covers (XGBoost
// sum_hessian, LightGBM internal_count and leaf_count). out must have
// NumFeatures()+1 elements: it receives each feature's contribution in the
// model's feature order, then the bias (the expected margin) last, all in
// margin (log-odds) space; they sum to the margin Predict passes through the
// sigmoid. Rows are routed exactly as Predict routes them (NaN follows the
// default branch; XGBoost's float32 comparison is kept by the converted
// thresholds), so out has the layout and values of XGBoost's
// predict(..., pred_contribs=True). Trees within the leaf tables' limits
// (treeshap_table.go) are explained from tables computed at load, the
// others by the recursion. It fails with ErrNoCovers when the file had no
// covers. It does not allocate and is safe for concurrent use.
func (m *Model) Contributions(features []float64, out []float64) error {
	if len(features) != m.numFeatures {
		return fmt.Errorf("model expects %d features, got %d", m.numFeatures, len(features))
	}
	if len(out) != m.numFeatures+1 {
		return fmt.Errorf("contributions need %d outputs (features and bias), got %d", m.numFeatures+1, len(out))
	}
	x := m.shap
	if x.err != nil {
		return x.err
	}
	for i := range out {
		out[i] = 0
	}
	w := x.work.Get().(*shapWork)
	x.contribute(features, out[:m.numFeatures], w, true)
	x.work.Put(w)
	out[m.numFeatures] = x.expected
	return nil
}

// contribute adds the contributions of row features to phi: from the leaf
// tables where a tree has them (and tables is true: tests compare both),
// else by the recursion.
func (x *explainer) contribute(features, phi []float64, w *shapWork, tables bool) {
	for i := range x.trees {
		t := &x.trees[i]
		switch {
		case t.numLeaves == 1:
		case tables && x.tables[i].leaves != nil:
			t.contributeTable(&x.tables[i], features, phi, w.decisions[:t.numLeaves-1])
		default:
			t.shap(features, phi, w.path, 0, 0, 1, 1, -1)
		}
	}
}

// validateCovers checks the covers' lengths and values: finite, not
// negative, and positive on internal nodes (their branches' weights are
// fractions of it).
func (t *tree) validateCovers() error {
	if t.internalCover == nil && t.leafCover == nil {
		return nil
	}
	if len(t.internalCover) != t.numLeaves-1 || len(t.leafCover) != t.numLeaves {
		return fmt.Errorf("%d internal and %d leaf covers for %d leaves: %w", len(t.internalCover), len(t.leafCover), t.numLeaves, ErrCorrupt)
	}
	for i, c := range t.internalCover {
		if !(c > 0) || math.IsInf(c, 0) {
			return fmt.Errorf("internal node %d has cover %v, want finite and > 0: %w", i, c, ErrCorrupt)
		}
	}
	for i, c := range t.leafCover {
		if !(c >= 0) || math.IsInf(c, 0) {
			return fmt.Errorf("leaf %d has cover %v, want finite and >= 0: %w", i, c, ErrCorrupt)
		}
	}
	return nil
}

// cover returns the cover of child reference c (c >= 0 internal, else leaf ^c).
func (t *tree) cover(c int64) float64 {
	if c < 0 {
		return t.leafCover[^c]
	}
	return t.internalCover[c]
}

// depth returns the number of edges on the longest root-to-leaf path of a
// validated tree.
func (t *tree) depth() int {
	if t.numLeaves == 1 {
		return 0
	}
	type item struct {
		node  int64
		depth int
	}
	deepest := 0
	stack := []item{{0, 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range [2]int64{t.left[it.node], t.right[it.node]} {
			if c < 0 {
				deepest = max(deepest, it.depth+1)
			} else {
				stack = append(stack, item{c, it.depth + 1})
			}
		}
	}
	return deepest
}

// meanValue is the cover-weighted mean leaf value below internal node n,
// the tree's expected value at the root (XGBoost's node_mean_values).
func (t *tree) meanValue(n int64) float64 {
	if n < 0 {
		return t.leafValue[^n]
	}
	l, r := t.left[n], t.right[n]
	return (t.cover(l)*t.meanValue(l) + t.cover(r)*t.meanValue(r)) / t.internalCover[n]
}

// goesLeft routes value v at internal node n exactly as leaves does for
// the LightGBM text this package hands it (lgtree.go: numericalDecision,
// categoricalDecision), so contributions follow the prediction's path.
func (t *tree) goesLeft(n int64, v float64) bool {
	dt := t.decisionType[n]
	missing := dt & dtMissingMask
	if dt&dtCategorical != 0 {
		iv := int32(v) // as leaves: NaN and huge values convert to a negative int32 on amd64
		if iv < 0 {
			return false
		} else if math.IsNaN(v) {
			if missing == dtMissingNaN {
				return false
			}
			iv = 0
		}
		set := int64(t.threshold[n])
		lo, hi := t.catBoundaries[set], t.catBoundaries[set+1]
		word := int64(iv) / 32
		if word >= hi-lo {
			return false
		}
		return (t.catThreshold[lo+word]>>(uint(iv)%32))&1 != 0
	}
	if math.IsNaN(v) && missing != dtMissingNaN {
		v = 0
	}
	if (missing == dtMissingZero && v > -1e-35 && v <= 1e-35) || (missing == dtMissingNaN && math.IsNaN(v)) {
		return dt&dtDefaultLeft != 0
	}
	return v <= t.threshold[n]
}

// shap is Algorithm 2's RECURSE at node (internal n >= 0, leaf ^n) with the
// parent's unique path parent[:depth], as in XGBoost's RegTree::TreeShap:
// the path is extended by the parent's split (feature pf with fractions pz,
// po); a leaf credits every feature on the path; an internal node whose
// feature is already on the path first unwinds it, so a feature split on
// twice counts once with the product of its fractions.
func (t *tree) shap(x, phi []float64, parent []pathElem, n int64, depth int, pz, po float64, pf int64) {
	if pz == 0 && po == 0 {
		// No path flows here (a branch with zero cover that the row does
		// not take): every contribution below is 0, and unwinding a
		// feature with both fractions 0 would divide by zero.
		return
	}
	path := parent[depth+1:]
	copy(path[:depth+1], parent[:depth+1])
	extendPath(path, depth, pz, po, pf)
	if n < 0 {
		v := t.leafValue[^n]
		// For a feature whose one fraction is 0 (the row does not go its
		// way), UNWOUND-SUM is the same sum over the path divided by its
		// zero fraction: computed once per leaf, not once per feature.
		coldSum, haveCold := 0.0, false
		for i := 1; i <= depth; i++ {
			el := &path[i]
			var w float64
			if el.one != 0 {
				w = unwoundPathSum(path, depth, i)
			} else {
				if !haveCold {
					coldSum, haveCold = unwoundColdSum(path, depth), true
				}
				w = coldSum / el.zero
			}
			phi[el.feature] += w * (el.one - el.zero) * v
		}
		return
	}
	f := t.splitFeature[n]
	hot, cold := t.left[n], t.right[n]
	if !t.goesLeft(n, x[f]) {
		hot, cold = cold, hot
	}
	c := t.internalCover[n]
	hotZero, coldZero := t.cover(hot)/c, t.cover(cold)/c
	inZero, inOne := 1.0, 1.0
	k := 1
	for ; k <= depth; k++ {
		if path[k].feature == f {
			break
		}
	}
	if k <= depth {
		inZero, inOne = path[k].zero, path[k].one
		unwindPath(path, depth, k)
		depth--
	}
	t.shap(x, phi, path, hot, depth+1, hotZero*inZero, inOne, f)
	t.shap(x, phi, path, cold, depth+1, coldZero*inZero, 0, f)
}

// recip[k] is 1/k: the path arithmetic multiplies by it instead of dividing
// (divisions were most of the cost).
var recip = func() (r [MaxExplainDepth + 3]float64) {
	for k := 1; k < len(r); k++ {
		r[k] = 1 / float64(k)
	}
	return r
}()

// extendPath is Algorithm 2's EXTEND: path[depth] becomes feature f with
// fractions z and o, and the permutation weights grow by one element.
func extendPath(path []pathElem, depth int, z, o float64, f int64) {
	path[depth] = pathElem{feature: f, zero: z, one: o}
	if depth == 0 {
		path[0].pweight = 1
	}
	inv := recip[depth+1]
	for i := depth - 1; i >= 0; i-- {
		w := path[i].pweight * inv
		path[i+1].pweight += o * w * float64(i+1)
		path[i].pweight = z * w * float64(depth-i)
	}
}

// unwindPath is Algorithm 2's UNWIND: it undoes the extension by path[k].
func unwindPath(path []pathElem, depth, k int) {
	o, z := path[k].one, path[k].zero
	next := path[depth].pweight
	d1, inv := float64(depth+1), recip[depth+1]
	if o != 0 {
		invO := 1 / o
		for i := depth - 1; i >= 0; i-- {
			tmp := path[i].pweight
			path[i].pweight = next * d1 * recip[i+1] * invO
			next = tmp - path[i].pweight*z*float64(depth-i)*inv
		}
	} else {
		invZ := 1 / z
		for i := depth - 1; i >= 0; i-- {
			path[i].pweight = path[i].pweight * d1 * recip[depth-i] * invZ
		}
	}
	for i := k; i < depth; i++ {
		path[i].feature, path[i].zero, path[i].one = path[i+1].feature, path[i+1].zero, path[i+1].one
	}
}

// unwoundPathSum is Algorithm 2's UNWOUND-SUM: the total permutation weight
// of the path with path[k] unwound, without modifying it.
func unwoundPathSum(path []pathElem, depth, k int) float64 {
	o, z := path[k].one, path[k].zero
	next := path[depth].pweight
	d1, inv := float64(depth+1), recip[depth+1]
	total := 0.0
	switch {
	case o != 0:
		invO := 1 / o
		for i := depth - 1; i >= 0; i-- {
			tmp := next * d1 * recip[i+1] * invO
			total += tmp
			next = path[i].pweight - tmp*z*float64(depth-i)*inv
		}
	case z != 0:
		total = unwoundColdSum(path, depth) / z
	}
	return total
}

// unwoundColdSum is UNWOUND-SUM's total, before the division by the zero
// fraction, for a feature whose one fraction is 0: it does not depend on
// which feature that is.
func unwoundColdSum(path []pathElem, depth int) float64 {
	d1 := float64(depth + 1)
	total := 0.0
	for i := depth - 1; i >= 0; i-- {
		total += path[i].pweight * d1 * recip[depth-i]
	}
	return total
}
