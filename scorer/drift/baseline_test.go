package drift_test

import (
	"errors"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// TestBundledBaseline: the bundled latest version carries a baseline for
// every feature, and a Monitor accepts it.
func TestBundledBaseline(t *testing.T) {
	loaded := testenv.BundledModel(t)
	b := drift.BaselineFrom(loaded.Meta)
	if len(b.Features) != len(loaded.Meta.Features) {
		t.Fatalf("%d feature baselines for %d features", len(b.Features), len(loaded.Meta.Features))
	}
	m, err := drift.NewMonitor(loaded.Version, loaded.Meta.Features, b, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range loaded.Meta.GoldenRows {
		m.Observe(r.Features, r.Probability)
	}
	if d := m.Drift(); d.Events != len(loaded.Meta.GoldenRows) || len(d.Features) != len(loaded.Meta.Features) {
		t.Fatalf("drift of the golden rows: %+v", d)
	}
}

// TestOlderMetadataWithoutBaseline: a version trained before baselines
// existed still loads through the store's checks and serves; its Monitor is
// refused with ErrNoBaseline (nothing exported).
func TestOlderMetadataWithoutBaseline(t *testing.T) {
	dir := t.TempDir()
	const version = "v20200101_000000"
	vdir := testenv.CopyBundled(t, dir, version)
	testenv.EditMetadata(t, vdir, func(m map[string]any) {
		if _, ok := m["feature_baselines"]; !ok {
			t.Fatal("the bundled metadata has no feature_baselines to remove")
		}
		delete(m, "feature_baselines")
	})
	loaded, err := modelstore.Open(dir).Load(version)
	if err != nil {
		t.Fatalf("metadata without feature baselines: %v", err)
	}
	if loaded.Meta.FeatureBaselines != nil {
		t.Fatalf("feature baselines from nowhere: %v", loaded.Meta.FeatureBaselines)
	}
	m, err := drift.NewMonitor(version, loaded.Meta.Features, drift.BaselineFrom(loaded.Meta), 0)
	if !errors.Is(err, drift.ErrNoBaseline) || m != nil {
		t.Fatalf("NewMonitor = %v, %v; want ErrNoBaseline", m, err)
	}
}
