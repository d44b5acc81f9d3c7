package lifecycle_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/settings"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

func featuresOn(c *lifecycle.Config) { c.VerdictFeatures = true }

// auditEvents are events(n) with, every third one, no aggregates and no IP
// country, so that some features are missing (NaN, null in JSON).
func auditEvents(n int) []contracts.TransactionEvent {
	evs := events(n)
	for i := 0; i < len(evs); i += 3 {
		evs[i].Aggregates = nil
		evs[i].IPCountry = ""
	}
	return evs
}

// verdictSchema compiles the verdict.v1 JSON Schema.
func verdictSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := contracts.Schema(contracts.SchemaFileVerdictV1)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	const url = "https://github.com/fraudscore/fraudscore/contracts/schemas/verdict.v1.json"
	require.NoError(t, c.AddResource(url, doc))
	sch, err := c.Compile(url)
	require.NoError(t, err)
	return sch
}

// requireFeaturesOf requires vd.Features to be what the model loaded saw
// for ev: its feature names in its order, and the values its extractor
// gives, bit for bit (NaN for NaN).
func requireFeaturesOf(t *testing.T, loaded *modelstore.Loaded, ev *contracts.TransactionEvent, vd *contracts.Verdict) (missing int) {
	t.Helper()
	names := loaded.Meta.Features
	row := make([]float64, loaded.Extractor.Len())
	require.NoError(t, loaded.Extractor.Extract(ev, row))
	require.Len(t, vd.Features, len(names), ev.TransactionID)
	for i, f := range vd.Features {
		require.Equal(t, names[i], f.Name, "%s: features[%d]", ev.TransactionID, i)
		if math.IsNaN(row[i]) {
			require.True(t, math.IsNaN(f.Value), "%s: %s = %v, want missing", ev.TransactionID, f.Name, f.Value)
			missing++
			continue
		}
		require.Equal(t, math.Float64bits(row[i]), math.Float64bits(f.Value), "%s: %s = %v, want %v", ev.TransactionID, f.Name, f.Value, row[i])
	}
	return missing
}

// requireRoundTrip encodes vd, checks the payload against the schema and
// decodes it back: the features come back in order, value for value.
func requireRoundTrip(t *testing.T, sch *jsonschema.Schema, vd *contracts.Verdict) {
	t.Helper()
	out := vd.AppendJSON(nil)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(inst), "%s", out)
	var got contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(out, &got), "%s", out)
	require.Len(t, got.Features, len(vd.Features))
	for i, f := range vd.Features {
		g := got.Features[i]
		require.Equal(t, f.Name, g.Name)
		require.True(t, math.Float64bits(f.Value) == math.Float64bits(g.Value) || math.IsNaN(f.Value) && math.IsNaN(g.Value),
			"%s: %v != %v in %s", f.Name, f.Value, g.Value, out)
	}
}

// Off (the default), verdicts carry no features: nothing in the verdict,
// nothing in its JSON.
func TestVerdictFeaturesOff(t *testing.T) {
	assert.False(t, lifecycle.DefaultConfig().VerdictFeatures)
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), nil)
	var vd contracts.Verdict // reused, as the worker reuses its verdict
	for _, ev := range auditEvents(30) {
		require.NoError(t, h.lc.Score(&ev, &vd))
		require.Empty(t, vd.Features)
		require.NotContains(t, string(vd.AppendJSON(nil)), `"features"`)
	}
}

// On, the champion deciding (a challenger in shadow), every verdict
// carries the champion's features as it saw them, missing ones as null;
// the verdict validates, matches the schema and round-trips.
func TestVerdictFeaturesOfTheChampion(t *testing.T) {
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), featuresOn)
	loaded := testenv.BundledModel(t)
	sch := verdictSchema(t)
	v := contracts.NewValidator()
	missing, flagged := 0, 0
	var vd contracts.Verdict // reused: a previous verdict's features never leak
	for _, ev := range auditEvents(120) {
		require.NoError(t, h.lc.Score(&ev, &vd))
		require.Equal(t, champion, vd.ModelVersion)
		require.Len(t, vd.Shadow, 1, "the challenger scored in shadow")
		missing += requireFeaturesOf(t, loaded, &ev, &vd)
		require.NoError(t, v.ValidateVerdict(&vd))
		requireRoundTrip(t, sch, &vd)
		if vd.Decision != contracts.DecisionApprove {
			flagged++
		}
	}
	require.Positive(t, missing, "some inputs were missing: the null case was exercised")
	require.Positive(t, flagged, "features ride along with reasons on flagged verdicts")
}

// In split mode the challenger decides its share and its verdicts carry
// its features; when it fails, the champion decides and the verdict
// carries the champion's, never the failed model's half-made ones.
func TestVerdictFeaturesOfTheDecider(t *testing.T) {
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), func(c *lifecycle.Config) {
		featuresOn(c)
		c.ChallengerMode = lifecycle.ModeSplit
		c.ChallengerShare = 1
	})
	loaded := testenv.BundledModel(t)
	failNext, failed := false, 0
	lifecycle.SetHook(h.lc, func(version string) error {
		if version == challenger && failNext {
			failed++
			return errors.New("challenger broke")
		}
		return nil
	})
	var vd contracts.Verdict
	byVersion := map[string]int{}
	for i, ev := range auditEvents(60) {
		failNext = i%2 == 1
		require.NoError(t, h.lc.Score(&ev, &vd))
		want := challenger
		if failNext {
			want = champion
		}
		require.Equal(t, want, vd.ModelVersion)
		byVersion[vd.ModelVersion]++
		requireFeaturesOf(t, loaded, &ev, &vd)
		require.NoError(t, contracts.NewValidator().ValidateVerdict(&vd))
	}
	require.Equal(t, 30, failed, "the challenger's failures happened")
	assert.Equal(t, map[string]int{challenger: 30, champion: 30}, byVersion)
}

// A failing decider leaves no features from an earlier verdict behind.
func TestVerdictFeaturesClearedOnError(t *testing.T) {
	h := newHarness(t, testenv.ChampionChallengerStore(t, false), featuresOn)
	fail := false
	lifecycle.SetHook(h.lc, func(string) error {
		if fail {
			return errors.New("champion broke")
		}
		return nil
	})
	evs := events(2)
	var vd contracts.Verdict
	require.NoError(t, h.lc.Score(&evs[0], &vd))
	require.NotEmpty(t, vd.Features)
	fail = true
	require.Error(t, h.lc.Score(&evs[1], &vd))
	assert.Empty(t, vd.Features)
}

// With features on, scoring into a reused verdict still does not allocate.
func TestScoreWithFeaturesDoesNotAllocate(t *testing.T) {
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), featuresOn)
	evs := auditEvents(50)
	var vd contracts.Verdict
	require.NoError(t, h.lc.Score(&evs[0], &vd)) // room for the features and the shadow entry
	i := 0
	allocs := testing.AllocsPerRun(500, func() {
		if err := h.lc.Score(&evs[i%len(evs)], &vd); err != nil {
			t.Fatal(err)
		}
		i++
	})
	require.NotEmpty(t, vd.Features)
	assert.LessOrEqual(t, allocs, testenv.RaceAllocs)
}

func TestVerdictFeaturesSetting(t *testing.T) {
	for env, want := range map[string]bool{"": false, "true": true, "false": false} {
		c := lifecycle.DefaultConfig()
		c.ModelDir = testenv.ModelDir(t)
		var environ []string
		if env != "" {
			environ = []string{"FRAUDSCORE_VERDICT_FEATURES=" + env}
		}
		unknown, err := settings.Load(environ, lifecycle.Section(&c, nil))
		require.NoError(t, err)
		assert.Empty(t, unknown)
		assert.Equal(t, want, c.VerdictFeatures, "FRAUDSCORE_VERDICT_FEATURES=%q", env)
	}
	c := lifecycle.DefaultConfig()
	c.ModelDir = testenv.ModelDir(t)
	_, err := settings.Load([]string{"FRAUDSCORE_VERDICT_FEATURES=yes please"}, lifecycle.Section(&c, nil))
	require.ErrorIs(t, err, settings.ErrConfig)
	assert.Contains(t, err.Error(), "FRAUDSCORE_VERDICT_FEATURES")
}
