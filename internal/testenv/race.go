//go:build race

package testenv

// RaceAllocs is what an allocation-free call may still cost per call
// under -race, where sync.Pool drops a quarter of its Puts at random (a
// hot path that takes workspaces from two or more pools averages about
// one allocation per call). Without the race detector it is 0.
const RaceAllocs = 1.0
