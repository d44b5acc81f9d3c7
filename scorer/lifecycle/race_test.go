//go:build race

package lifecycle_test

// raceAllocs: under -race sync.Pool drops a quarter of its Puts at random.
const raceAllocs = 1.0
