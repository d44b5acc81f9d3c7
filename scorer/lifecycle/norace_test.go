//go:build !race

package lifecycle_test

// raceAllocs is 0 without the race detector: Score does not allocate.
const raceAllocs = 0.0
