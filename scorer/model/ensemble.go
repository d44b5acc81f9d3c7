package model

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// LightGBM decision_type bits.
const (
	dtCategorical = 1 << 0
	dtDefaultLeft = 1 << 1
	dtMissingMask = 3 << 2
	dtMissingZero = 1 << 2
	dtMissingNaN  = 2 << 2
)

// tree is one tree in LightGBM's array layout: internal nodes 0..numLeaves-2,
// child index c >= 0 is an internal node, c < 0 is leaf ^c.
type tree struct {
	numLeaves    int
	splitFeature []int64
	threshold    []float64
	decisionType []int64
	left, right  []int64
	leafValue    []float64
	// categorical splits (LightGBM only)
	numCat        int
	catBoundaries []int64
	catThreshold  []int64
	// leafSource[i] is the source node id of leaf i (XGBoost only), kept
	// so tests can compare routing with XGBoost's pred_leaf.
	leafSource []int64
	// internalCover and leafCover are the nodes' covers (XGBoost
	// sum_hessian, LightGBM internal_count and leaf_count), nil when the
	// file has none. TreeSHAP weighs a node's branches by them.
	internalCover, leafCover []float64
}

// ensemble is the validated, format-neutral form handed to leaves.
type ensemble struct {
	numFeatures  int
	featureNames []string
	trees        []tree
	bias         float64
}

func (e *ensemble) validate() error {
	if e.numFeatures < 1 || e.numFeatures > MaxFeatures {
		return fmt.Errorf("number of features %d outside [1, %d]: %w", e.numFeatures, MaxFeatures, ErrCorrupt)
	}
	if len(e.featureNames) != 0 && len(e.featureNames) != e.numFeatures {
		return fmt.Errorf("%d feature names for %d features: %w", len(e.featureNames), e.numFeatures, ErrCorrupt)
	}
	if len(e.trees) == 0 {
		return fmt.Errorf("model has no trees: %w", ErrCorrupt)
	}
	if len(e.trees) > MaxTrees {
		return fmt.Errorf("model has %d trees, more than the limit %d: %w", len(e.trees), MaxTrees, ErrUnsupported)
	}
	if math.IsNaN(e.bias) || math.IsInf(e.bias, 0) {
		return fmt.Errorf("base margin %v is not finite: %w", e.bias, ErrCorrupt)
	}
	for i := range e.trees {
		if err := e.trees[i].validate(e.numFeatures); err != nil {
			return fmt.Errorf("tree %d: %w", i, err)
		}
	}
	return nil
}

func (t *tree) validate(numFeatures int) error {
	nl := t.numLeaves
	if nl < 1 || nl > MaxLeavesPerTree {
		return fmt.Errorf("num_leaves %d outside [1, %d]: %w", nl, MaxLeavesPerTree, ErrCorrupt)
	}
	if len(t.leafValue) != nl {
		return fmt.Errorf("%d leaf values for %d leaves: %w", len(t.leafValue), nl, ErrCorrupt)
	}
	for i, v := range t.leafValue {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("leaf %d value %v is not finite: %w", i, v, ErrCorrupt)
		}
	}
	if err := t.validateCovers(); err != nil {
		return err
	}
	nn := nl - 1
	for name, n := range map[string]int{
		"split_feature": len(t.splitFeature), "threshold": len(t.threshold), "decision_type": len(t.decisionType),
		"left_child": len(t.left), "right_child": len(t.right),
	} {
		if n != nn {
			return fmt.Errorf("%s has %d entries for %d internal nodes: %w", name, n, nn, ErrCorrupt)
		}
	}
	if t.numCat < 0 || t.numCat > nn {
		return fmt.Errorf("num_cat %d outside [0, %d]: %w", t.numCat, nn, ErrCorrupt)
	}
	if t.numCat > 0 {
		if len(t.catBoundaries) != t.numCat+1 || t.catBoundaries[0] != 0 || t.catBoundaries[t.numCat] != int64(len(t.catThreshold)) {
			return fmt.Errorf("cat_boundaries inconsistent with num_cat %d and %d cat_threshold words: %w", t.numCat, len(t.catThreshold), ErrCorrupt)
		}
		for i := 0; i < t.numCat; i++ {
			if t.catBoundaries[i+1] <= t.catBoundaries[i] {
				return fmt.Errorf("cat_boundaries not increasing at %d: %w", i, ErrCorrupt)
			}
			any := false
			for _, w := range t.catThreshold[t.catBoundaries[i]:t.catBoundaries[i+1]] {
				if w < 0 || w > math.MaxUint32 {
					return fmt.Errorf("cat_threshold word %d out of uint32 range: %w", w, ErrCorrupt)
				}
				any = any || w != 0
			}
			if !any {
				return fmt.Errorf("categorical split %d has an empty category set: %w", i, ErrCorrupt)
			}
		}
	} else if len(t.catBoundaries) != 0 || len(t.catThreshold) != 0 {
		return fmt.Errorf("categorical data present with num_cat=0: %w", ErrCorrupt)
	}
	if nn == 0 {
		return nil
	}
	for i := 0; i < nn; i++ {
		if f := t.splitFeature[i]; f < 0 || f >= int64(numFeatures) {
			return fmt.Errorf("node %d splits on feature %d, model has %d features: %w", i, f, numFeatures, ErrCorrupt)
		}
		dt := t.decisionType[i]
		if dt < 0 || dt > 15 || dt&dtMissingMask == dtMissingMask {
			return fmt.Errorf("node %d has invalid decision_type %d: %w", i, dt, ErrCorrupt)
		}
		th := t.threshold[i]
		if math.IsNaN(th) {
			return fmt.Errorf("node %d has a NaN threshold: %w", i, ErrCorrupt)
		}
		if dt&dtCategorical != 0 {
			if th != math.Trunc(th) || th < 0 || th >= float64(t.numCat) {
				return fmt.Errorf("categorical node %d refers to category set %v of %d: %w", i, th, t.numCat, ErrCorrupt)
			}
		}
	}
	// Every internal node but the root and every leaf must have exactly one
	// parent, and all internal nodes must be reachable from the root: this
	// makes the structure a tree (no cycles, no sharing, nothing dangling).
	nodeParents := make([]uint8, nn)
	leafParents := make([]uint8, nl)
	for i := 0; i < nn; i++ {
		for _, c := range [2]int64{t.left[i], t.right[i]} {
			switch {
			case c >= 0:
				if c == 0 || c >= int64(nn) {
					return fmt.Errorf("node %d has child %d outside [1, %d): %w", i, c, nn, ErrCorrupt)
				}
				if nodeParents[c]++; nodeParents[c] > 1 {
					return fmt.Errorf("node %d has more than one parent: %w", c, ErrCorrupt)
				}
			default:
				l := ^c
				if l >= int64(nl) {
					return fmt.Errorf("node %d refers to leaf %d of %d: %w", i, l, nl, ErrCorrupt)
				}
				if leafParents[l]++; leafParents[l] > 1 {
					return fmt.Errorf("leaf %d has more than one parent: %w", l, ErrCorrupt)
				}
			}
		}
	}
	for l, p := range leafParents {
		if p != 1 {
			return fmt.Errorf("leaf %d is not referenced: %w", l, ErrCorrupt)
		}
	}
	reached := 0
	stack := []int64{0}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		reached++
		for _, c := range [2]int64{t.left[n], t.right[n]} {
			if c > 0 {
				stack = append(stack, c)
			}
		}
		if reached > nn {
			return fmt.Errorf("tree contains a cycle: %w", ErrCorrupt)
		}
	}
	if reached != nn {
		return fmt.Errorf("%d of %d internal nodes are unreachable from the root: %w", nn-reached, nn, ErrCorrupt)
	}
	return nil
}

// lightGBMText renders the validated ensemble as LightGBM v3 text, the only
// input leaves ever receives from this package.
func (e *ensemble) lightGBMText() []byte {
	var b bytes.Buffer
	b.WriteString("tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n")
	fmt.Fprintf(&b, "max_feature_idx=%d\nobjective=binary sigmoid:1\ntree_sizes=", e.numFeatures-1)
	for i := range e.trees {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('0')
	}
	b.WriteString("\n\n")
	for i := range e.trees {
		t := &e.trees[i]
		fmt.Fprintf(&b, "Tree=%d\nnum_leaves=%d\nnum_cat=%d\n", i, t.numLeaves, t.numCat)
		if t.numLeaves > 1 {
			writeInts(&b, "split_feature", t.splitFeature)
			writeFloats(&b, "threshold", t.threshold)
			writeInts(&b, "decision_type", t.decisionType)
			writeInts(&b, "left_child", t.left)
			writeInts(&b, "right_child", t.right)
		}
		writeFloats(&b, "leaf_value", t.leafValue)
		if t.numCat > 0 {
			writeInts(&b, "cat_boundaries", t.catBoundaries)
			writeInts(&b, "cat_threshold", t.catThreshold)
		}
		b.WriteString("\n")
	}
	b.WriteString("end of trees\n")
	return b.Bytes()
}

func writeInts(b *bytes.Buffer, key string, v []int64) {
	b.WriteString(key)
	b.WriteByte('=')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(x, 10))
	}
	b.WriteByte('\n')
}

func writeFloats(b *bytes.Buffer, key string, v []float64) {
	b.WriteString(key)
	b.WriteByte('=')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	}
	b.WriteByte('\n')
}
