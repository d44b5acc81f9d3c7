package drift

// MaxEdges bounds a histogram's edges, so that a bin index (the edges' bins
// and the missing bin) fits the byte a Monitor keeps per value and event.
const MaxEdges = 254

// Bin returns the bin of v in a histogram with the given upper bounds
// (ascending, distinct, not empty): the first i with v <= edges[i], the last
// bin for a value above every edge, and len(edges), the missing bin, for
// NaN. It is the one binning rule of training's baselines and of the live
// windows, found by binary search; it does not allocate.
func Bin(edges []float64, v float64) int {
	if v != v || len(edges) == 0 {
		return len(edges)
	}
	lo, hi := 0, len(edges)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if edges[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
