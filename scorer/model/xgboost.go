package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

type xgbModel struct {
	Learner *struct {
		FeatureNames      []string        `json:"feature_names"`
		GradientBooster   json.RawMessage `json:"gradient_booster"`
		LearnerModelParam struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
	} `json:"learner"`
	Version json.RawMessage `json:"version"`
}

type xgbBooster struct {
	Name  string          `json:"name"`
	Model json.RawMessage `json:"model"`
}

type xgbGBTree struct {
	Param struct {
		NumTrees       string `json:"num_trees"`
		SizeLeafVector string `json:"size_leaf_vector"`
	} `json:"gbtree_model_param"`
	TreeInfo []int64   `json:"tree_info"`
	Trees    []xgbTree `json:"trees"`
}

type xgbTree struct {
	Left            []int64       `json:"left_children"`
	Right           []int64       `json:"right_children"`
	SplitIndices    []int64       `json:"split_indices"`
	SplitConditions []json.Number `json:"split_conditions"`
	DefaultLeft     flexBools     `json:"default_left"`
	SplitType       []int64       `json:"split_type"`
	CategoriesNodes []int64       `json:"categories_nodes"`
	SumHessian      []float64     `json:"sum_hessian"`
	Param           struct {
		NumNodes       string `json:"num_nodes"`
		SizeLeafVector string `json:"size_leaf_vector"`
	} `json:"tree_param"`
}

// flexBools decodes default_left, written as 0/1 integers by XGBoost but
// accepted as booleans too.
type flexBools []bool

func (f *flexBools) UnmarshalJSON(b []byte) error {
	var ints []int64
	if err := json.Unmarshal(b, &ints); err == nil {
		out := make([]bool, len(ints))
		for i, v := range ints {
			if v != 0 && v != 1 {
				return fmt.Errorf("default_left[%d]=%d is not 0 or 1", i, v)
			}
			out[i] = v == 1
		}
		*f = out
		return nil
	}
	var bools []bool
	if err := json.Unmarshal(b, &bools); err != nil {
		return fmt.Errorf("default_left is neither 0/1 nor boolean array")
	}
	*f = bools
	return nil
}

// parseXGBoostJSON converts an XGBoost JSON model (binary:logistic, gbtree,
// numerical splits, scalar leaves) into the LightGBM layout leaves runs.
func parseXGBoostJSON(data []byte) (*ensemble, error) {
	var m xgbModel
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("invalid XGBoost JSON: %v: %w", err, ErrCorrupt)
	}
	if m.Learner == nil {
		return nil, fmt.Errorf("JSON has no \"learner\" object; only XGBoost save_model JSON is supported (LightGBM dump_model JSON is not; save LightGBM models as text): %w", ErrUnsupported)
	}
	var version []int
	if err := json.Unmarshal(m.Version, &version); err != nil || len(version) < 1 {
		return nil, fmt.Errorf("missing or invalid XGBoost version: %w", ErrCorrupt)
	}
	if version[0] < 1 || version[0] > 3 {
		return nil, fmt.Errorf("XGBoost version %v (supported: 1.x to 3.x): %w", version, ErrUnsupported)
	}
	l := m.Learner
	if l.Objective.Name != "binary:logistic" {
		return nil, fmt.Errorf("objective %q: only binary:logistic is supported: %w", l.Objective.Name, ErrUnsupported)
	}
	p := l.LearnerModelParam
	if nc := p.NumClass; nc != "" && nc != "0" && nc != "1" {
		return nil, fmt.Errorf("num_class=%.20s: multi-class models are not supported: %w", nc, ErrUnsupported)
	}
	if nt := p.NumTarget; nt != "" && nt != "1" {
		return nil, fmt.Errorf("num_target=%.20s: multi-target models are not supported: %w", nt, ErrUnsupported)
	}
	numFeatures, err := strconv.Atoi(p.NumFeature)
	if err != nil || numFeatures < 1 || numFeatures > MaxFeatures {
		return nil, fmt.Errorf("num_feature=%.20q outside [1, %d]: %w", p.NumFeature, MaxFeatures, ErrCorrupt)
	}
	bias, err := xgbBaseMargin(p.BaseScore)
	if err != nil {
		return nil, err
	}

	var gb xgbBooster
	if err := json.Unmarshal(l.GradientBooster, &gb); err != nil {
		return nil, fmt.Errorf("invalid gradient_booster: %v: %w", err, ErrCorrupt)
	}
	switch gb.Name {
	case "gbtree":
	case "dart":
		return nil, fmt.Errorf("dart booster is not supported (its trees are scaled by weight_drop at prediction); retrain with booster=gbtree: %w", ErrUnsupported)
	case "gblinear":
		return nil, fmt.Errorf("gblinear booster is not supported, only tree models: %w", ErrUnsupported)
	default:
		return nil, fmt.Errorf("booster %.40q is not supported, only gbtree: %w", gb.Name, ErrUnsupported)
	}
	var g xgbGBTree
	if err := json.Unmarshal(gb.Model, &g); err != nil {
		return nil, fmt.Errorf("invalid gbtree model: %v: %w", err, ErrCorrupt)
	}
	if s := g.Param.SizeLeafVector; s != "" && s != "0" && s != "1" {
		return nil, fmt.Errorf("vector leaves (size_leaf_vector=%.20s, multi_strategy) are not supported: %w", s, ErrUnsupported)
	}
	if n, err := strconv.Atoi(g.Param.NumTrees); err != nil || n != len(g.Trees) {
		return nil, fmt.Errorf("num_trees=%.20q but %d trees present: %w", g.Param.NumTrees, len(g.Trees), ErrCorrupt)
	}
	if len(g.TreeInfo) != len(g.Trees) {
		return nil, fmt.Errorf("tree_info has %d entries for %d trees: %w", len(g.TreeInfo), len(g.Trees), ErrCorrupt)
	}
	for i, c := range g.TreeInfo {
		if c != 0 {
			return nil, fmt.Errorf("tree %d belongs to output group %d: multi-output models are not supported: %w", i, c, ErrUnsupported)
		}
	}
	if len(g.Trees) > MaxTrees {
		return nil, fmt.Errorf("%d trees, more than the limit %d: %w", len(g.Trees), MaxTrees, ErrUnsupported)
	}
	e := &ensemble{numFeatures: numFeatures, bias: bias, trees: make([]tree, 0, len(g.Trees))}
	if len(l.FeatureNames) > 0 {
		e.featureNames = l.FeatureNames
	}
	for i := range g.Trees {
		t, err := g.Trees[i].convert(numFeatures)
		if err != nil {
			return nil, fmt.Errorf("tree %d: %w", i, err)
		}
		e.trees = append(e.trees, t)
	}
	return e, nil
}

// xgbBaseMargin parses base_score ("5E-1" up to 3.0, "[5E-1]" from 3.1), a
// probability for binary:logistic, and returns its logit.
func xgbBaseMargin(s string) (float64, error) {
	v := strings.TrimSpace(s)
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		v = strings.TrimSpace(v[1 : len(v)-1])
		if strings.Contains(v, ",") {
			return 0, fmt.Errorf("base_score %.40q has several values: multi-target models are not supported: %w", s, ErrUnsupported)
		}
	}
	b, err := strconv.ParseFloat(v, 32)
	if err != nil {
		return 0, fmt.Errorf("base_score %.40q is not a number: %w", s, ErrCorrupt)
	}
	if !(b > 0 && b < 1) {
		return 0, fmt.Errorf("base_score %v is not a probability in (0, 1): %w", b, ErrCorrupt)
	}
	return -math.Log(1/b - 1), nil
}

func (x *xgbTree) convert(numFeatures int) (tree, error) {
	var t tree
	n := len(x.Left)
	if n < 1 || n > 2*MaxLeavesPerTree {
		return t, fmt.Errorf("%d nodes outside [1, %d]: %w", n, 2*MaxLeavesPerTree, ErrCorrupt)
	}
	if nn := x.Param.NumNodes; nn != "" && nn != strconv.Itoa(n) {
		return t, fmt.Errorf("num_nodes=%.20s but %d nodes present: %w", nn, n, ErrCorrupt)
	}
	if s := x.Param.SizeLeafVector; s != "" && s != "0" && s != "1" {
		return t, fmt.Errorf("vector leaves (size_leaf_vector=%.20s) are not supported: %w", s, ErrUnsupported)
	}
	for name, l := range map[string]int{"right_children": len(x.Right), "split_indices": len(x.SplitIndices),
		"split_conditions": len(x.SplitConditions), "default_left": len(x.DefaultLeft)} {
		if l != n {
			return t, fmt.Errorf("%s has %d entries for %d nodes: %w", name, l, n, ErrCorrupt)
		}
	}
	if len(x.CategoriesNodes) > 0 {
		return t, fmt.Errorf("categorical splits are not supported: %w", ErrUnsupported)
	}
	if x.SumHessian != nil && len(x.SumHessian) != n {
		return t, fmt.Errorf("sum_hessian has %d entries for %d nodes: %w", len(x.SumHessian), n, ErrCorrupt)
	}
	if x.SplitType != nil && len(x.SplitType) != n {
		return t, fmt.Errorf("split_type has %d entries for %d nodes: %w", len(x.SplitType), n, ErrCorrupt)
	}

	// Number reachable nodes in depth-first order: internal nodes 0, 1, ...
	// and leaves ^0, ^1, ...; the visited check rejects cycles and sharing.
	ids := make([]int64, n)
	seen := make([]bool, n)
	order := make([]int, 0, n)
	stack := []int64{0}
	var nInternal, nLeaves int64
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[i] {
			return t, fmt.Errorf("node %d is reached twice (cycle or shared subtree): %w", i, ErrCorrupt)
		}
		seen[i] = true
		l, r := x.Left[i], x.Right[i]
		if l == -1 {
			if r != -1 {
				return t, fmt.Errorf("node %d has only a right child: %w", i, ErrCorrupt)
			}
			ids[i] = ^nLeaves
			nLeaves++
			order = append(order, int(i))
			continue
		}
		if l < 0 || l >= int64(n) || r < 0 || r >= int64(n) {
			return t, fmt.Errorf("node %d has children %d, %d outside [0, %d): %w", i, l, r, n, ErrCorrupt)
		}
		ids[i] = nInternal
		nInternal++
		order = append(order, int(i))
		stack = append(stack, r, l)
	}
	t.numLeaves = int(nLeaves)
	t.leafValue = make([]float64, nLeaves)
	t.leafSource = make([]int64, nLeaves)
	t.splitFeature = make([]int64, nInternal)
	t.threshold = make([]float64, nInternal)
	t.decisionType = make([]int64, nInternal)
	t.left = make([]int64, nInternal)
	t.right = make([]int64, nInternal)
	if x.SumHessian != nil {
		t.internalCover = make([]float64, nInternal)
		t.leafCover = make([]float64, nLeaves)
	}
	for _, i := range order {
		v, err := strconv.ParseFloat(string(x.SplitConditions[i]), 32)
		if err != nil {
			return t, fmt.Errorf("split_conditions[%d]=%.40q is not a float32: %w", i, x.SplitConditions[i], ErrCorrupt)
		}
		id := ids[i]
		if x.SumHessian != nil {
			// XGBoost keeps sum_hessian as a float32.
			c := float64(float32(x.SumHessian[i]))
			if id < 0 {
				t.leafCover[^id] = c
			} else {
				t.internalCover[id] = c
			}
		}
		if id < 0 {
			t.leafValue[^id] = v
			t.leafSource[^id] = int64(i)
			continue
		}
		if x.SplitType != nil && x.SplitType[i] != 0 {
			return t, fmt.Errorf("node %d has split_type %d: categorical splits are not supported: %w", i, x.SplitType[i], ErrUnsupported)
		}
		f := x.SplitIndices[i]
		if f < 0 || f >= int64(numFeatures) {
			return t, fmt.Errorf("node %d splits on feature %d, model has %d: %w", i, f, numFeatures, ErrCorrupt)
		}
		th, ok := xgbThreshold(float32(v))
		if !ok {
			return t, fmt.Errorf("node %d has split condition %v, which cannot be expressed as a threshold: %w", i, v, ErrUnsupported)
		}
		dt := int64(dtMissingNaN)
		if x.DefaultLeft[i] {
			dt |= dtDefaultLeft
		}
		t.splitFeature[id] = f
		t.threshold[id] = th
		t.decisionType[id] = dt
		t.left[id] = ids[x.Left[i]]
		t.right[id] = ids[x.Right[i]]
	}
	return t, nil
}
