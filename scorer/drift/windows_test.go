package drift_test

import (
	"errors"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/drift"
)

// TestWindowsKeepAVersionsMonitorAcrossReloads: the lifecycle starts a
// reloaded version before it stops the copy it replaces; the window goes on
// and stays exported until the last Stop.
func TestWindowsKeepAVersionsMonitorAcrossReloads(t *testing.T) {
	loaded := testenv.BundledModel(t)
	c := drift.NewCollector()
	w := drift.NewWindows(c, 10)
	events := `fraudscore_drift_window_events{model_version="` + loaded.Version + `"}`

	first, err := w.Start(loaded)
	if err != nil {
		t.Fatal(err)
	}
	r := loaded.Meta.GoldenRows[0]
	first.Observe(r.Features, r.Probability)
	again, err := w.Start(loaded) // reloaded
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatal("a version loaded again got a new window")
	}
	w.Stop(loaded.Version) // the replaced copy
	if got := gather(t, c); got[events] != 1 {
		t.Fatalf("after a reload: %v, want the window of 1 event still exported", got)
	}
	w.Stop(loaded.Version)
	if got := gather(t, c); len(got) != 0 {
		t.Fatalf("after the last Stop: %v, want nothing", got)
	}
	w.Stop(loaded.Version) // unknown now: ignored
}

func TestWindowsWithoutBaseline(t *testing.T) {
	loaded := *testenv.BundledModel(t)
	loaded.Meta.FeatureBaselines = nil
	c := drift.NewCollector()
	obs, err := drift.NewWindows(c, 10).Start(&loaded)
	if !errors.Is(err, drift.ErrNoBaseline) || obs != nil {
		t.Fatalf("Start = %v, %v; want a nil observer and ErrNoBaseline", obs, err)
	}
	if got := gather(t, c); len(got) != 0 {
		t.Fatalf("a version without baseline exports %v, want nothing", got)
	}
}
