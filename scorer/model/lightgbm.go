package model

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// parseLightGBM parses a LightGBM text model (v2, v3 or v4). Only the header
// and the tree blocks are read; everything after "end of trees" (feature
// importances, parameters, pandas_categorical and v4's parser section) is
// ignored.
func parseLightGBM(data []byte) (*ensemble, error) {
	lines := bytes.Split(data, []byte("\n"))
	pos := 0
	// readBlock reads key=value lines up to a blank line or end of input.
	readBlock := func() (map[string]string, error) {
		kv := make(map[string]string)
		for pos < len(lines) {
			line := strings.TrimSpace(string(lines[pos]))
			pos++
			if line == "" {
				break
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				v = ""
			}
			if _, dup := kv[k]; dup {
				return nil, fmt.Errorf("duplicate key %q: %w", k, ErrCorrupt)
			}
			kv[k] = v
		}
		return kv, nil
	}
	skipBlank := func() {
		for pos < len(lines) && strings.TrimSpace(string(lines[pos])) == "" {
			pos++
		}
	}

	skipBlank()
	hdr, err := readBlock()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if _, ok := hdr["tree"]; !ok {
		return nil, fmt.Errorf("missing \"tree\" header line: %w", ErrCorrupt)
	}
	switch v := hdr["version"]; v {
	case "v2", "v3", "v4":
	case "":
		return nil, fmt.Errorf("missing version line: %w", ErrCorrupt)
	default:
		return nil, fmt.Errorf("LightGBM model version %q (supported: v2, v3, v4): %w", v, ErrUnsupported)
	}
	numClass, err := hdrInt(hdr, "num_class")
	if err != nil {
		return nil, err
	}
	if numClass != 1 {
		return nil, fmt.Errorf("num_class=%d: only binary classification (num_class=1) is supported: %w", numClass, ErrUnsupported)
	}
	if v, ok := hdr["num_tree_per_iteration"]; ok && v != "1" {
		return nil, fmt.Errorf("num_tree_per_iteration=%s: only 1 is supported: %w", v, ErrUnsupported)
	}
	if err := checkLightGBMObjective(hdr["objective"]); err != nil {
		return nil, err
	}
	if _, ok := hdr["average_output"]; ok {
		return nil, fmt.Errorf("random forest models (average_output) are not supported: %w", ErrUnsupported)
	}
	maxIdx, err := hdrInt(hdr, "max_feature_idx")
	if err != nil {
		return nil, err
	}
	if maxIdx < 0 || maxIdx >= MaxFeatures {
		return nil, fmt.Errorf("max_feature_idx=%d outside [0, %d): %w", maxIdx, MaxFeatures, ErrCorrupt)
	}
	e := &ensemble{numFeatures: maxIdx + 1}
	if names, ok := hdr["feature_names"]; ok && names != "" {
		e.featureNames = strings.Fields(names)
	}
	declaredTrees := -1
	if sizes, ok := hdr["tree_sizes"]; ok {
		declaredTrees = len(strings.Fields(sizes))
	}

	for {
		skipBlank()
		if pos >= len(lines) {
			return nil, fmt.Errorf("missing \"end of trees\" after %d trees (truncated file?): %w", len(e.trees), ErrCorrupt)
		}
		line := strings.TrimSpace(string(lines[pos]))
		if line == "end of trees" {
			break
		}
		if len(e.trees) >= MaxTrees {
			return nil, fmt.Errorf("more than %d trees: %w", MaxTrees, ErrUnsupported)
		}
		want := "Tree=" + strconv.Itoa(len(e.trees))
		if line != want {
			return nil, fmt.Errorf("expected %q, found %.40q: %w", want, line, ErrCorrupt)
		}
		blk, err := readBlock()
		if err != nil {
			return nil, fmt.Errorf("tree %d: %w", len(e.trees), err)
		}
		t, err := lightGBMTree(blk)
		if err != nil {
			return nil, fmt.Errorf("tree %d: %w", len(e.trees), err)
		}
		e.trees = append(e.trees, t)
	}
	if declaredTrees >= 0 && declaredTrees != len(e.trees) {
		return nil, fmt.Errorf("tree_sizes lists %d trees but the file has %d: %w", declaredTrees, len(e.trees), ErrCorrupt)
	}
	return e, nil
}

// checkLightGBMObjective accepts exactly "binary sigmoid:1", the objective
// whose output transformation (1/(1+exp(-raw))) Predict applies.
func checkLightGBMObjective(obj string) error {
	name, param, _ := strings.Cut(obj, " ")
	switch {
	case obj == "":
		return fmt.Errorf("model has no objective line, so its output transformation is unknown: %w", ErrUnsupported)
	case name == "binary" && param == "sigmoid:1":
		return nil
	case name == "binary":
		return fmt.Errorf("objective %q: only sigmoid:1 is supported: %w", obj, ErrUnsupported)
	case name == "cross_entropy" || name == "xentropy" || name == "cross_entropy_lambda" || name == "xentlambda":
		return fmt.Errorf("objective %q: cross-entropy models are not supported (untested; train with objective=binary): %w", obj, ErrUnsupported)
	default:
		return fmt.Errorf("objective %q: only binary classification (objective=binary) is supported: %w", obj, ErrUnsupported)
	}
}

func hdrInt(kv map[string]string, key string) (int, error) {
	v, ok := kv[key]
	if !ok {
		return 0, fmt.Errorf("missing %s: %w", key, ErrCorrupt)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%.40q is not an integer: %w", key, v, ErrCorrupt)
	}
	return n, nil
}

func lightGBMTree(kv map[string]string) (tree, error) {
	var t tree
	if v, ok := kv["is_linear"]; ok && v != "0" {
		return t, fmt.Errorf("linear trees (is_linear=%s) are not supported: %w", v, ErrUnsupported)
	}
	var err error
	if t.numLeaves, err = hdrInt(kv, "num_leaves"); err != nil {
		return t, err
	}
	if t.numLeaves < 1 || t.numLeaves > MaxLeavesPerTree {
		return t, fmt.Errorf("num_leaves=%d outside [1, %d]: %w", t.numLeaves, MaxLeavesPerTree, ErrCorrupt)
	}
	if v, ok := kv["num_cat"]; ok {
		if t.numCat, err = strconv.Atoi(v); err != nil {
			return t, fmt.Errorf("num_cat=%.40q is not an integer: %w", v, ErrCorrupt)
		}
	}
	if t.leafValue, err = floatList(kv, "leaf_value", true); err != nil {
		return t, err
	}
	if t.numLeaves == 1 {
		return t, nil
	}
	if err := lightGBMCovers(kv, &t); err != nil {
		return t, err
	}
	if t.splitFeature, err = intList(kv, "split_feature", true); err != nil {
		return t, err
	}
	if t.threshold, err = floatList(kv, "threshold", true); err != nil {
		return t, err
	}
	if t.decisionType, err = intList(kv, "decision_type", true); err != nil {
		return t, err
	}
	if t.left, err = intList(kv, "left_child", true); err != nil {
		return t, err
	}
	if t.right, err = intList(kv, "right_child", true); err != nil {
		return t, err
	}
	if t.numCat > 0 {
		if t.catBoundaries, err = intList(kv, "cat_boundaries", true); err != nil {
			return t, err
		}
		if t.catThreshold, err = intList(kv, "cat_threshold", true); err != nil {
			return t, err
		}
	}
	return t, nil
}

// lightGBMCovers reads internal_count and leaf_count, the data counts
// LightGBM's own TreeSHAP weighs branches by. A tree missing either has no
// covers (t's covers stay nil).
func lightGBMCovers(kv map[string]string, t *tree) error {
	ic, err := floatList(kv, "internal_count", false)
	if err != nil {
		return err
	}
	lc, err := floatList(kv, "leaf_count", false)
	if err != nil {
		return err
	}
	if ic != nil && lc != nil {
		t.internalCover, t.leafCover = ic, lc
	}
	return nil
}

func intList(kv map[string]string, key string, required bool) ([]int64, error) {
	return parseList(kv, key, required, "an integer", func(f string) (int64, error) { return strconv.ParseInt(f, 10, 64) })
}

func floatList(kv map[string]string, key string, required bool) ([]float64, error) {
	return parseList(kv, key, required, "a number", func(f string) (float64, error) { return strconv.ParseFloat(f, 64) })
}

// parseList parses the space-separated values of kv[key]; a missing key is
// an error only when required.
func parseList[T any](kv map[string]string, key string, required bool, what string, parse func(string) (T, error)) ([]T, error) {
	v, ok := kv[key]
	if !ok {
		if required {
			return nil, fmt.Errorf("missing %s: %w", key, ErrCorrupt)
		}
		return nil, nil
	}
	fields := strings.Fields(v)
	out := make([]T, len(fields))
	for i, f := range fields {
		x, err := parse(f)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]=%.40q is not %s: %w", key, i, f, what, ErrCorrupt)
		}
		out[i] = x
	}
	return out, nil
}
