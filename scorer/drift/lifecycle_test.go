package drift_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/synthetic"
)

// TestLifecycleFeedsTheWindows wires Windows into a lifecycle serving a
// champion and a challenger in shadow, as the worker does: every scored
// event reaches both versions' windows, a reload keeps them, and a removed
// challenger's series go.
func TestLifecycleFeedsTheWindows(t *testing.T) {
	dir := testenv.ChampionChallengerStore(t, true)
	c := drift.NewCollector()
	cfg := lifecycle.DefaultConfig()
	cfg.ModelDir = dir
	lc, err := lifecycle.New(cfg, lifecycle.Options{Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewJSONHandler(&testenv.Buffer{}, nil)), Drift: drift.NewWindows(c, 100)})
	if err != nil {
		t.Fatal(err)
	}
	g := synthetic.New(synthetic.Config{Seed: 5})
	var vd contracts.Verdict
	for range 30 {
		ev, _ := g.Next()
		if err := lc.Score(&ev, &vd); err != nil {
			t.Fatal(err)
		}
	}
	champ := `fraudscore_drift_window_events{model_version="` + testenv.ChampionVersion + `"}`
	chall := `fraudscore_drift_window_events{model_version="` + testenv.ChallengerVersion + `"}`
	got := gather(t, c)
	if got[champ] != 30 || got[chall] != 30 {
		t.Fatalf("after 30 events in shadow: %v, want 30 in each window", got)
	}
	lc.Reload()
	if got := gather(t, c); got[champ] != 30 || got[chall] != 30 {
		t.Fatalf("after a reload: %v, want the windows kept", got)
	}
	if err := os.Remove(filepath.Join(dir, modelstore.ChallengerLink)); err != nil {
		t.Fatal(err)
	}
	lc.Reload()
	got = gather(t, c)
	if _, ok := got[chall]; ok || got[champ] != 30 {
		t.Fatalf("challenger link removed: %v, want the champion's window alone", got)
	}
}
