package velocity

import "sync/atomic"

// A guess is a key's state and revision as Velocity believes it to be
// without reading the Store: the value this process last wrote or read
// (from the cache), or "absent" for a key it does not know. Writing a
// state computed from a guess is a compare-and-set at the guessed
// revision, so it succeeds only if the guess was right; a wrong guess costs
// the failed write and the read Velocity would have done anyway. Counts are
// exactly as without guessing: a state is only ever written over the
// revision it was computed from, and an event a guess says not to write
// (a duplicate, a late event) is settled on a fresh read.
//
// Guessing pays when more than half the guesses are right (a right guess
// saves one round trip, a wrong one costs one), so each kind of guess
// tracks its recent success rate and is only tried while that rate is at
// least one half, and on one event in guessProbeEvery otherwise, to notice
// when it becomes worth it again. With one worker per key (a single
// worker, or few workers and much traffic per key) cached guesses are
// right; with N workers sharing one consumer a key's next event reaches
// the same worker about 1/N of the time, and guessing turns itself off.

// guessSource is where a guess comes from.
type guessSource int

const (
	// guessCached: the cache held the key's state.
	guessCached guessSource = iota
	// guessAbsent: the cache did not know the key; guess it does not exist.
	guessAbsent
)

// guessSources names the sources, the source label of
// fraudscore_velocity_guesses_total.
var guessSources = [2]string{"cached", "absent"}

// Guess rate tracking: the rate is over the last guessWindow/2 to
// guessWindow tries; it is trusted from guessWarmup tries on.
const (
	guessWindow     = 1024
	guessWarmup     = 32
	guessProbeEvery = 16
)

// guessRate is the recent success rate of one kind of guess, in one word:
// tries in the high half, hits in the low half.
type guessRate struct {
	v     atomic.Uint64
	probe atomic.Uint32
}

// worth reports whether to try the guess on this event.
func (g *guessRate) worth() bool {
	v := g.v.Load()
	tries, hits := v>>32, v&(1<<32-1)
	if tries < guessWarmup || 2*hits >= tries {
		return true
	}
	return g.probe.Add(1)%guessProbeEvery == 0
}

// record adds one try, a hit or not, halving both counts when the window
// is full so that old tries weigh less.
func (g *guessRate) record(hit bool) {
	for {
		old := g.v.Load()
		tries, hits := old>>32+1, old&(1<<32-1)
		if hit {
			hits++
		}
		if tries >= guessWindow {
			tries, hits = tries/2, hits/2
		}
		if g.v.CompareAndSwap(old, tries<<32|hits) {
			return
		}
	}
}
