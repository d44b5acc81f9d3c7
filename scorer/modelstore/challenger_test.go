package modelstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// challengerOf is the challenger link's raw target, or "" without one.
func challengerOf(t testing.TB, dir string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(dir, modelstore.ChallengerLink))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	return target
}

func setChallengerLink(t testing.TB, dir, v string) {
	t.Helper()
	_ = os.Remove(filepath.Join(dir, modelstore.ChallengerLink))
	require.NoError(t, os.Symlink(v, filepath.Join(dir, modelstore.ChallengerLink)))
}

func TestChallengerSetShowClear(t *testing.T) {
	s, dir := newStore(t)
	testenv.CopyBundled(t, dir, v3)

	_, err := s.Challenger()
	assert.ErrorIs(t, err, modelstore.ErrNoChallenger)

	require.NoError(t, s.SetChallenger(v2))
	c, err := s.Challenger()
	require.NoError(t, err)
	assert.Equal(t, v2, c)
	assert.Equal(t, v2, challengerOf(t, dir), "a relative link to the version name, like latest")
	assertNoTempLinks(t, dir)

	require.NoError(t, s.SetChallenger(v2), "setting the same challenger again succeeds")
	require.NoError(t, s.SetChallenger(v3), "set replaces the challenger")
	assert.Equal(t, v3, challengerOf(t, dir))
	assert.Equal(t, v1, linkTarget(t, dir), "latest never moves with the challenger")

	require.NoError(t, s.ClearChallenger())
	_, err = s.Challenger()
	assert.ErrorIs(t, err, modelstore.ErrNoChallenger)
	require.NoError(t, s.ClearChallenger(), "clearing twice is not an error")
	assert.Equal(t, v1, linkTarget(t, dir))
	assertNoTempLinks(t, dir)

	setChallengerLink(t, dir, "not-a-version")
	_, err = s.Challenger()
	assert.ErrorIs(t, err, modelstore.ErrBadVersion, "a hand-made link to a non-version")
}

func TestSetChallengerWithoutLatest(t *testing.T) {
	s, dir := newStore(t)
	require.NoError(t, os.Remove(filepath.Join(dir, modelstore.LatestLink)))
	assert.ErrorIs(t, s.SetChallenger(""), modelstore.ErrBadVersion)
	require.NoError(t, s.SetChallenger(v2), "no champion yet is no conflict")
	assert.Equal(t, v2, challengerOf(t, dir))
}

func TestSetChallengerRefusesLatest(t *testing.T) {
	s, dir := newStore(t)
	require.NoError(t, s.SetChallenger(v2))
	err := s.SetChallenger(v1)
	require.Error(t, err)
	assert.ErrorIs(t, err, modelstore.ErrChallengerIsLatest)
	assert.Contains(t, err.Error(), "refusing to set challenger: "+v1+" is latest")
	assert.Equal(t, v2, challengerOf(t, dir), "a refusal leaves the challenger as it was")
}

func TestSetChallengerRefusesMissing(t *testing.T) {
	s, dir := newStore(t)
	for _, v := range []string{"v20990101_000000", "latest", modelstore.ChallengerLink, "../" + v2, ""} {
		err := s.SetChallenger(v)
		assert.ErrorIs(t, err, modelstore.ErrBadVersion, "%q", v)
		assert.Equal(t, "", challengerOf(t, dir), "no link to a missing version")
	}
	assertNoTempLinks(t, dir)
}

// TestSetChallengerRefusals breaks v2 each way Promote refuses and checks
// SetChallenger refuses it for the same reason, leaving the challenger (v3)
// in place.
func TestSetChallengerRefusals(t *testing.T) {
	for _, r := range refusals(t) {
		t.Run(r.name, func(t *testing.T) {
			s, dir := newStore(t)
			testenv.CopyBundled(t, dir, v3)
			require.NoError(t, s.SetChallenger(v3))
			r.apply(t, filepath.Join(dir, v2))

			err := s.SetChallenger(v2)
			require.Error(t, err)
			assert.ErrorIs(t, err, r.want)
			assert.Contains(t, err.Error(), "refusing to set challenger")
			assert.Contains(t, err.Error(), v2, "the error names the version")
			assert.Equal(t, v3, challengerOf(t, dir), "the challenger must not move to a refused version")
			assert.Equal(t, v1, linkTarget(t, dir))
			assertNoTempLinks(t, dir)
		})
	}
}

func TestPromoteChallengerClearsIt(t *testing.T) {
	s, dir := newStore(t)
	testenv.CopyBundled(t, dir, v3)
	require.NoError(t, s.SetChallenger(v2))

	require.NoError(t, s.Promote(v3))
	assert.Equal(t, v2, challengerOf(t, dir), "promoting another version leaves the trial running")

	require.NoError(t, s.Promote(v2))
	assert.Equal(t, v2, linkTarget(t, dir))
	_, err := s.Challenger()
	assert.ErrorIs(t, err, modelstore.ErrNoChallenger, "promoting the challenger ends its trial")
	assertNoTempLinks(t, dir)
}

func TestRollbackSkipsChallenger(t *testing.T) {
	s, dir := newStore(t)
	testenv.CopyBundled(t, dir, v3)
	require.NoError(t, s.Promote(v3))
	require.NoError(t, s.SetChallenger(v2))

	got, err := s.Rollback()
	require.NoError(t, err)
	assert.Equal(t, v1, got, "v2 is newer than v1 but on trial")
	assert.Equal(t, v1, linkTarget(t, dir))
	assert.Equal(t, v2, challengerOf(t, dir), "the trial goes on")

	// With the challenger the only earlier version, there is nowhere to go.
	require.NoError(t, s.Promote(v3))
	require.NoError(t, s.SetChallenger(v1))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, v2)))
	_, err = s.Rollback()
	require.Error(t, err)
	assert.ErrorIs(t, err, modelstore.ErrNoRollback)
	assert.Contains(t, err.Error(), v1+": skipped, it is the challenger")
	assert.Equal(t, v3, linkTarget(t, dir))
	assert.Equal(t, v1, challengerOf(t, dir))
}

// whileLocked holds the store lock as a command in another process would,
// starts op, waits until op is blocked on the lock, runs meanwhile (that
// other command's change), releases the lock and returns op's error.
func whileLocked(t *testing.T, dir string, op func() error, meanwhile func()) error {
	lockPath := filepath.Join(dir, ".lock")
	release := testenv.HoldFlock(t, lockPath)
	errc := make(chan error, 1)
	go func() { errc <- op() }()
	testenv.WaitFlockWaiter(t, lockPath)
	meanwhile()
	release()
	return <-errc
}

// TestSetChallengerWaitsForLock: a promote of v2 holds the lock while
// SetChallenger(v2) waits; SetChallenger must then see the new latest and
// refuse.
func TestSetChallengerWaitsForLock(t *testing.T) {
	s, dir := newStore(t)
	err := whileLocked(t, dir, func() error { return s.SetChallenger(v2) }, func() { setLatest(t, dir, v2) })
	assert.ErrorIs(t, err, modelstore.ErrChallengerIsLatest, "SetChallenger read latest before taking the lock")
	assert.Equal(t, "", challengerOf(t, dir))
}

// TestPromoteWaitsForLock is the other order: a challenger set while the
// lock is held is seen by the promote that waited, which clears it.
func TestPromoteWaitsForLock(t *testing.T) {
	s, dir := newStore(t)
	err := whileLocked(t, dir, func() error { return s.Promote(v2) }, func() { setChallengerLink(t, dir, v2) })
	require.NoError(t, err)
	assert.Equal(t, v2, linkTarget(t, dir))
	assert.Equal(t, "", challengerOf(t, dir), "Promote read the challenger before taking the lock")
}

// TestPromoteAndSetChallengerConcurrent races a promote and a set of the
// same version: whichever order the lock gives, latest and challenger never
// end up naming the same version.
func TestPromoteAndSetChallengerConcurrent(t *testing.T) {
	s, dir := newStore(t)
	outcomes := map[string]int{}
	for range 12 {
		setLatest(t, dir, v1)
		require.NoError(t, s.ClearChallenger())
		var wg sync.WaitGroup
		var promoteErr, setErr error
		wg.Add(2)
		go func() { defer wg.Done(); promoteErr = s.Promote(v2) }()
		go func() { defer wg.Done(); setErr = s.SetChallenger(v2) }()
		wg.Wait()
		require.NoError(t, promoteErr)
		assert.Equal(t, v2, linkTarget(t, dir))
		c := challengerOf(t, dir)
		assert.NotEqual(t, v2, c, "latest and challenger both name %s", v2)
		switch {
		case errors.Is(setErr, modelstore.ErrChallengerIsLatest):
			outcomes["promote first, set refused"]++
		case setErr == nil:
			outcomes["set first, promote cleared it"]++
		default:
			t.Fatalf("set: %v", setErr)
		}
	}
	assertNoTempLinks(t, dir)
	t.Logf("orders the lock gave: %v", outcomes)
}

// TestSetChallengerIsAtomic checks that readers never see the challenger
// link missing or pointing at a version that does not exist while it moves.
func TestSetChallengerIsAtomic(t *testing.T) {
	s, dir := newStore(t)
	testenv.CopyBundled(t, dir, v3)
	require.NoError(t, s.SetChallenger(v2))
	stop := watchLink(t, dir, modelstore.ChallengerLink, v2, v3)
	for i := range 10 {
		v := v2
		if i%2 == 0 {
			v = v3
		}
		require.NoError(t, s.SetChallenger(v))
	}
	stop()
}
