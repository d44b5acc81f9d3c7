package drift_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/synthetic"
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
	var compared []string
	for _, f := range loaded.Meta.Features {
		if drift.Compared(f) {
			compared = append(compared, f)
		}
	}
	if got := m.Features(); !slices.Equal(got, compared) || len(got) != len(loaded.Meta.Features)-2 {
		t.Fatalf("compared features %v, want %v (all but hour of day and day of week)", got, compared)
	}
	if d := m.Drift(); d.Events != len(loaded.Meta.GoldenRows) || len(d.Features) != len(compared) {
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

// TestGeneratorTrafficShowsNoDrift: a window of traffic from the generator
// the bundled model was trained on, stamped with the live clock as the
// demo's is, stays below the warning threshold on the score and every
// compared feature (the clock features, which would not, are not compared).
func TestGeneratorTrafficShowsNoDrift(t *testing.T) {
	l := testenv.BundledModel(t)
	m, err := drift.NewMonitor(l.Version, l.Meta.Features, drift.BaselineFrom(l.Meta), drift.DefaultWindow)
	if err != nil {
		t.Fatal(err)
	}
	g := synthetic.New(synthetic.Config{Seed: 42, Now: time.Now})
	row := make([]float64, l.Extractor.Len())
	for range drift.DefaultWindow {
		ev, _ := g.Next()
		if err := l.Extractor.Extract(&ev, row); err != nil {
			t.Fatal(err)
		}
		p, err := l.Model.Predict(row)
		if err != nil {
			t.Fatal(err)
		}
		m.Observe(row, p)
	}
	d := m.Drift()
	if d.Score >= 0.1 {
		t.Errorf("score PSI %.4f on the training generator's traffic", d.Score)
	}
	for i, f := range m.Features() {
		if d.Features[i] >= 0.1 {
			t.Errorf("%s: PSI %.4f on the training generator's traffic", f, d.Features[i])
		}
	}
}
