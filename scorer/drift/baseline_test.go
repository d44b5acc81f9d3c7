package drift_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/training"
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

// TestGeneratorTrafficShowsNoDrift: a day of the traffic the bundled model
// was trained on (population mode's raw streams with the aggregates
// computed by scorer/velocity, through training.Examples, none masked: the
// traffic of a worker with velocity on), from a seed it
// was not trained on, stays below the warning threshold on the score and
// every compared feature (the clock features are not compared). A whole
// simulated day, because the population has a daily rhythm and the
// baseline is a mix of whole days: a window of night traffic alone, when
// legitimate payments are few and fraud is not, moves the score (PSI about
// 0.15 for the first 10 000 rows after midnight) though no feature does.
// The default generator's traffic, whose aggregates an upstream system made
// up, drifts on the velocity features, as it would on a worker fed it.
func TestGeneratorTrafficShowsNoDrift(t *testing.T) {
	l := testenv.BundledModel(t)
	require.Contains(t, l.Meta.Data.Generator, "synthetic/population", "the bundled model was trained on population mode")

	// Velocity on, as a worker with FRAUDSCORE_VELOCITY=kv serves: no row
	// masked (training masks a share of its rows, which the baselines leave
	// out).
	var population []contracts.TransactionEvent
	for ex, err := range training.Examples(t.Context(), training.Config{Rows: simulatedDay, Seed: 42, MissingAggregates: -1}) {
		require.NoError(t, err)
		require.False(t, ex.Masked, "a masked row with MissingAggregates < 0")
		require.NotNil(t, ex.Event.Aggregates, "velocity computed")
		population = append(population, ex.Event)
	}
	require.Len(t, population, simulatedDay)
	require.Greater(t, population[len(population)-1].EventTime.Sub(population[0].EventTime), 24*time.Hour, "a day of traffic")
	names, d := windowDrift(t, l, population)
	t.Logf("population mode: score PSI %.4f, features %v %.4f", d.Score, names, d.Features)
	if d.Score >= 0.1 {
		t.Errorf("score PSI %.4f on the training generator's traffic", d.Score)
	}
	for i, f := range names {
		if d.Features[i] >= 0.1 {
			t.Errorf("%s: PSI %.4f on the training generator's traffic", f, d.Features[i])
		}
	}

	// The default mode's traffic, stamped with the live clock as load
	// tests stamp it.
	g := synthetic.New(synthetic.Config{Seed: 42, Now: time.Now})
	upstream := make([]contracts.TransactionEvent, drift.DefaultWindow)
	for i := range upstream {
		upstream[i], _ = g.Next()
	}
	names, d = windowDrift(t, l, upstream)
	t.Logf("default mode: score PSI %.4f, features %v %.4f", d.Score, names, d.Features)
	for _, f := range []string{features.CardTxnCount1h, features.LogCardAmount24h, features.DeviceCardCount24h} {
		i := slices.Index(names, f)
		require.GreaterOrEqual(t, i, 0, "%s is compared", f)
		assert.GreaterOrEqual(t, d.Features[i], 0.1, "%s: PSI of the default mode's made-up aggregates", f)
	}
}

// simulatedDay is a little more than a day of population mode's default
// population (20 000 cards paying about 3.4 times a day).
const simulatedDay = 70_000

// windowDrift scores events with the model l and returns the compared
// features and the drift of a Monitor whose window holds them all.
func windowDrift(t *testing.T, l *modelstore.Loaded, events []contracts.TransactionEvent) ([]string, drift.Drift) {
	t.Helper()
	m, err := drift.NewMonitor(l.Version, l.Meta.Features, drift.BaselineFrom(l.Meta), len(events))
	require.NoError(t, err)
	row := make([]float64, l.Extractor.Len())
	for i := range events {
		require.NoError(t, l.Extractor.Extract(&events[i], row))
		p, err := l.Model.Predict(row)
		require.NoError(t, err)
		m.Observe(row, p)
	}
	return m.Features(), m.Drift()
}
