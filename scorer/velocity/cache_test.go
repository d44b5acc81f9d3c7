package velocity

import (
	"fmt"
	"testing"
)

func TestCacheBoundedCopies(t *testing.T) {
	c := newCache(cacheShards * 1024) // 1 KiB per shard
	v := []byte("state-1")
	c.store("c.a", v, 7)
	v[0] = 'X' // the cache keeps a copy
	got, rev, ok := c.load("c.a", nil)
	if !ok || rev != 7 || string(got) != "state-1" {
		t.Fatalf("load: %q %d %v", got, rev, ok)
	}
	c.store("c.a", []byte("state-2, longer than the first"), 9)
	if got, rev, _ := c.load("c.a", got[:0]); rev != 9 || string(got) != "state-2, longer than the first" {
		t.Fatalf("after an update: %q %d", got, rev)
	}
	c.forget("c.a")
	if _, _, ok := c.load("c.a", nil); ok {
		t.Fatal("forgotten key still cached")
	}

	// Far more than the budget: the cache stays within it, and the key
	// just stored is always kept.
	value := make([]byte, 200)
	for i := range 5000 {
		key := fmt.Sprint("c.k", i)
		c.store(key, value, uint64(i+1))
		if _, rev, ok := c.load(key, nil); !ok || rev != uint64(i+1) {
			t.Fatalf("key %s just stored is not cached", key)
		}
	}
	keys, bytes := c.size()
	if bytes > cacheShards*1024 || keys == 0 {
		t.Fatalf("cache holds %d keys in %d bytes, budget %d", keys, bytes, cacheShards*1024)
	}

	// A value larger than a shard's share is not kept.
	c.store("c.huge", make([]byte, 4096), 1)
	if _, _, ok := c.load("c.huge", nil); ok {
		t.Fatal("a value larger than a shard's share was cached")
	}
	if newCache(0) != nil {
		t.Fatal("a cache of 0 bytes is not nil")
	}
}

func TestGuessRate(t *testing.T) {
	var g guessRate
	for range guessWarmup {
		if !g.worth() {
			t.Fatal("not worth guessing during the warm-up")
		}
		g.record(false)
	}
	tried := 0
	for range 1600 {
		if g.worth() {
			tried++
			g.record(false)
		}
	}
	if tried != 1600/guessProbeEvery {
		t.Fatalf("always wrong: tried %d of 1600, want one in %d", tried, guessProbeEvery)
	}
	// Right from now on: the probes find it, and guessing resumes.
	resumed := -1
	for i := range 100_000 {
		if g.worth() {
			g.record(true)
			if v := g.v.Load(); 2*(v&(1<<32-1)) >= v>>32 {
				resumed = i
				break
			}
		}
	}
	if resumed < 0 {
		t.Fatal("guessing never resumed once guesses were right")
	}
	for range 100 {
		if !g.worth() {
			t.Fatal("not worth guessing while right half the time")
		}
		g.record(true)
	}
}
