package model

// Leaf tables: TreeSHAP with the path arithmetic done at load.
//
// In path-dependent TreeSHAP a leaf's contributions depend on the row only
// through which of the features on its path the row follows (every split
// on that feature sends the row toward the leaf: the feature's one fraction
// is 1, else 0); the zero fractions are products of cover ratios, fixed by
// the model. So for a leaf with d distinct features on its path, the 2^d
// possible contribution vectors can be computed at load with the same
// EXTEND and UNWOUND-SUM as the recursion, and explaining a row becomes:
// evaluate each split once, find each leaf's mask, add its precomputed
// vector. That is O(trees x leaves x depth) additions per row instead of
// O(trees x leaves x depth^2) dependent multiplications.

// maxTableFeatures bounds d, the distinct features on one leaf's path, and
// maxTableEntries the float64s of all tables of a model (16 MiB); a tree
// beyond the first, or met once the second is spent, is explained by the
// recursion instead.
const (
	maxTableFeatures = 10
	maxTableEntries  = 1 << 21
)

// leafTable is one leaf's precomputed contributions.
type leafTable struct {
	features []int64 // the distinct features on the path, in slot order
	nodes    []int64 // the internal nodes on the path
	left     []bool  // whether the path goes left at nodes[i]
	slot     []uint8 // the slot of nodes[i]'s feature
	// w[mask*d+k] is the contribution to features[k] of a row that follows
	// the path at exactly the slots in mask.
	w []float64
}

// treeTable holds the leaf tables of one tree; leaves is nil for a tree
// with one leaf or one the recursion explains.
type treeTable struct {
	leaves []leafTable
}

// buildTables precomputes the leaf tables of every tree within
// maxTableFeatures, while maxTableEntries lasts.
func buildTables(trees []tree) []treeTable {
	total := 0
	tables := make([]treeTable, len(trees))
	path := make([]pathElem, maxTableFeatures+2)
	for ti := range trees {
		t := &trees[ti]
		if t.numLeaves == 1 {
			continue
		}
		leaves := make([]leafTable, t.numLeaves)
		entries := 0
		var walk func(n int64, lt leafTable, zero []float64) bool
		walk = func(n int64, lt leafTable, zero []float64) bool {
			if n < 0 {
				d := len(lt.features)
				if d > maxTableFeatures {
					return false
				}
				if entries += d << d; total+entries > maxTableEntries {
					return false
				}
				lt.w = make([]float64, d<<d)
				v := t.leafValue[^n]
				for mask := 0; mask < 1<<d; mask++ {
					leafContributions(path, lt.features, zero, mask, v, lt.w[mask*d:(mask+1)*d])
				}
				leaves[^n] = lt
				return true
			}
			f := t.splitFeature[n]
			s := -1
			for k, g := range lt.features {
				if g == f {
					s = k
				}
			}
			if s < 0 {
				s = len(lt.features)
				lt.features = append(lt.features[:len(lt.features):len(lt.features)], f)
				zero = append(zero[:len(zero):len(zero)], 1)
			}
			if s > 255 {
				return false
			}
			for _, goLeft := range [2]bool{true, false} {
				c := t.right[n]
				if goLeft {
					c = t.left[n]
				}
				child := lt
				child.nodes = append(lt.nodes[:len(lt.nodes):len(lt.nodes)], n)
				child.left = append(lt.left[:len(lt.left):len(lt.left)], goLeft)
				child.slot = append(lt.slot[:len(lt.slot):len(lt.slot)], uint8(s))
				z := append([]float64(nil), zero...)
				z[s] *= t.cover(c) / t.internalCover[n]
				if !walk(c, child, z) {
					return false
				}
			}
			return true
		}
		if walk(0, leafTable{}, nil) {
			tables[ti].leaves = leaves
			total += entries
		}
	}
	return tables
}

// leafContributions fills out with a leaf's contributions (value v) to
// features, whose zero fractions are zero, for a row following the path at
// the slots in mask: EXTEND by each feature, then UNWOUND-SUM for each.
func leafContributions(path []pathElem, features []int64, zero []float64, mask int, v float64, out []float64) {
	d := len(features)
	extendPath(path, 0, 1, 1, -1)
	for k := 0; k < d; k++ {
		o := 0.0
		if mask&(1<<k) != 0 {
			o = 1
		} else if zero[k] == 0 {
			// No path reaches this leaf for such a row: nothing to credit
			// (and UNWOUND-SUM would divide by zero).
			clear(out)
			return
		}
		extendPath(path, k+1, zero[k], o, features[k])
	}
	for k := 0; k < d; k++ {
		el := &path[k+1]
		out[k] = unwoundPathSum(path, d, k+1) * (el.one - el.zero) * v
	}
}

// contributeTable adds the contributions of row x in tree t to phi from
// its leaf tables; dec is a workspace of t's internal nodes.
func (t *tree) contributeTable(tt *treeTable, x, phi []float64, dec []bool) {
	for n := range dec {
		dec[n] = t.goesLeft(int64(n), x[t.splitFeature[n]])
	}
	for li := range tt.leaves {
		lt := &tt.leaves[li]
		d := len(lt.features)
		mask := 1<<d - 1
		for j, n := range lt.nodes {
			if dec[n] != lt.left[j] {
				mask &^= 1 << lt.slot[j]
			}
		}
		w := lt.w[mask*d : mask*d+d]
		for k, f := range lt.features {
			phi[f] += w[k]
		}
	}
}
