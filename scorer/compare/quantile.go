package compare

// Quantile returns the nearest-rank quantile of sorted (ascending) for the
// fraction perMille/1000: the value at rank ⌈perMille·n/1000⌉ (1-based), so
// the median of 1..10 is 5 and its 99.9th percentile is 10. The rank is
// computed in integers, exactly. Quantile returns 0 for an empty slice;
// perMille is clamped to [1, 1000].
func Quantile(sorted []float64, perMille int) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	perMille = min(max(perMille, 1), 1000)
	rank := (perMille*n + 999) / 1000
	return sorted[max(rank, 1)-1]
}

// decileEdges returns the upper edges of the decile bins of sorted
// (ascending): the nearest-rank 10th, 20th, ..., 100th percentiles,
// duplicates dropped, binned by drift.Bin (bin i holds (edges[i-1],
// edges[i]], the last bin also anything above the last edge). With n
// distinct values each bin holds n/10 of them.
func decileEdges(sorted []float64) []float64 {
	edges := make([]float64, 0, 10)
	for k := 1; k <= 10; k++ {
		e := Quantile(sorted, 100*k)
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}
