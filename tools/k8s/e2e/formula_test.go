package e2e

import "testing"

// TestPredictedReplicas: the formula of docs/deploy.md ("How scaling
// works") with prod's bounds and threshold, including its worked example
// (lag ~400,000 -> 10 pods).
func TestPredictedReplicas(t *testing.T) {
	prod := trigger{LagThreshold: 40000, Min: 3, Max: 24}
	for _, c := range []struct {
		lag  uint64
		want int32
	}{
		{0, 3}, {120000, 3}, {120001, 4}, {398000, 10}, {400000, 10}, {400001, 11}, {2000000, 24},
	} {
		if got := predictedReplicas(c.lag, prod); got != c.want {
			t.Errorf("lag %d: %d replicas, want %d", c.lag, got, c.want)
		}
	}
}
