//go:build !race

package testenv

// RaceAllocs is 0 without the race detector: an allocation-free call
// allocates nothing (see race.go).
const RaceAllocs = 0.0
