package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// Versions of the two-version store of ChampionChallengerStore.
const (
	ChampionVersion   = "v20250101_000000"
	ChallengerVersion = "v20250201_000000"
)

// ChampionChallengerStore makes a model store in a temporary directory with
// two copies of the bundled model: latest -> ChampionVersion and, when
// withChallenger is set, challenger -> ChallengerVersion. It returns the
// store's directory.
func ChampionChallengerStore(t testing.TB, withChallenger bool) string {
	t.Helper()
	dir := t.TempDir()
	CopyBundled(t, dir, ChampionVersion)
	CopyBundled(t, dir, ChallengerVersion)
	check(t, os.Symlink(ChampionVersion, filepath.Join(dir, modelstore.LatestLink)))
	if withChallenger {
		check(t, os.Symlink(ChallengerVersion, filepath.Join(dir, modelstore.ChallengerLink)))
	}
	return dir
}

// MoveLink points the link name of the store dir at target atomically (a
// temporary link renamed over it), as promote does, without its checks, so
// that tests can point a link at a bad version.
func MoveLink(t testing.TB, dir, name, target string) {
	t.Helper()
	tmp := filepath.Join(dir, name+".tmp-test")
	_ = os.Remove(tmp)
	check(t, os.Symlink(target, tmp))
	check(t, os.Rename(tmp, filepath.Join(dir, name)))
}
