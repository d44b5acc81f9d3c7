package bench_test

import (
	"path/filepath"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/loadtest/bench"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

func TestChallengerStoreServesTwoCheckedVersions(t *testing.T) {
	src := testenv.ModelDir(t)
	versions, err := modelstore.Open(src).Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) < 2 {
		t.Fatalf("the bundled store holds %v: the challenger scenario needs a version besides latest", versions)
	}
	dir, err := bench.ChallengerStore(src, filepath.Join(t.TempDir(), "models"))
	if err != nil {
		t.Fatal(err)
	}
	st := modelstore.Open(dir)
	latest, err := st.Latest()
	if err != nil || latest != testenv.BundledVersion(t) {
		t.Fatalf("latest %q (%v), want the bundled %q", latest, err, testenv.BundledVersion(t))
	}
	ch, err := st.Challenger()
	if err != nil || ch == latest || ch == "" {
		t.Fatalf("challenger %q (%v), want a version other than latest %q", ch, err, latest)
	}
	if _, err := st.Load(ch); err != nil {
		t.Fatalf("the challenger does not pass the store's checks: %v", err)
	}
}
