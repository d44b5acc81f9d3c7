package lifecycle_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// The deciding model's flagged verdicts carry reasons, counted per code;
// every code of the table exists at 0 from the load; the challenger in
// shadow gives none.
func TestReasonsCountedPerCode(t *testing.T) {
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), nil)
	l := testenv.BundledModel(t)
	codes := l.Reasons.Codes()
	for _, v := range []string{champion, challenger} {
		for _, code := range codes {
			n, ok := h.value(t, "fraudscore_reasons_total", "model_version", v, "code", code)
			require.True(t, ok, "%s %s created at load", v, code)
			assert.Zero(t, n)
		}
		n, ok := h.value(t, "fraudscore_reasons_available", "model_version", v)
		require.True(t, ok)
		assert.Equal(t, 1.0, n)
	}
	want := map[string]float64{}
	flagged := 0
	for _, ev := range events(300) {
		var vd contracts.Verdict
		require.NoError(t, h.lc.Score(&ev, &vd))
		if vd.Decision == contracts.DecisionApprove {
			assert.Empty(t, vd.Reasons)
		} else {
			flagged++
			assert.NotEmpty(t, vd.Reasons)
			assert.LessOrEqual(t, len(vd.Reasons), 3)
		}
		for _, c := range vd.Reasons {
			want[c]++
		}
	}
	require.Positive(t, flagged)
	for _, code := range codes {
		n, _ := h.value(t, "fraudscore_reasons_total", "model_version", champion, "code", code)
		assert.Equal(t, want[code], n, code)
		n, _ = h.value(t, "fraudscore_reasons_total", "model_version", challenger, "code", code)
		assert.Zero(t, n, "the challenger in shadow gives no reasons")
	}
}

// A version without a reason table serves without reasons: logged once at
// load, fraudscore_reasons_available 0, no code series.
func TestVersionWithoutReasonTable(t *testing.T) {
	dir := testenv.ChampionChallengerStore(t, false)
	require.NoError(t, os.Remove(filepath.Join(dir, champion, modelstore.ReasonsFile)))
	h := newHarness(t, dir, func(c *lifecycle.Config) { c.Reasons = "all" })
	require.NoError(t, h.lc.Ready())
	n, ok := h.value(t, "fraudscore_reasons_available", "model_version", champion)
	require.True(t, ok)
	assert.Zero(t, n)
	for _, ev := range events(50) {
		var vd contracts.Verdict
		require.NoError(t, h.lc.Score(&ev, &vd))
		assert.Empty(t, vd.Reasons)
		assert.Empty(t, vd.ReasonDetails)
	}
	warned := testenv.Matching(h.log.Records(), testenv.MsgIs("model version gives no reason codes: its verdicts carry none"))
	require.Len(t, warned, 1)
	assert.Equal(t, champion, warned[0]["model_version"])
	assert.Contains(t, warned[0]["err"], modelstore.ReasonsFile)
	_, ok = h.value(t, "fraudscore_reasons_total", "model_version", champion, "code", "NEW_DEVICE")
	assert.False(t, ok)
}

func TestReasonsConfig(t *testing.T) {
	def := lifecycle.DefaultConfig()
	assert.Equal(t, "flagged", def.Reasons)
	assert.Equal(t, 3, def.ReasonsTop)
	bad := def
	bad.Reasons = "some"
	bad.ReasonsTop = 0
	assert.Equal(t, []string{
		`FRAUDSCORE_REASONS="some" must be flagged, all or off`,
		`FRAUDSCORE_REASONS_TOP=0 must be between 1 and 17 (the features a model can read)`,
	}, bad.Problems())
	bad.ReasonsTop = 18
	assert.Len(t, bad.Problems(), 2)
	off := def
	off.Reasons = "off"
	assert.Empty(t, off.Problems())
}

// In split mode the challenger decides its share of cards: its verdicts
// carry its reasons, counted under its version.
func TestReasonsOfTheChallengerDecidingItsShare(t *testing.T) {
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), func(c *lifecycle.Config) {
		c.ChallengerMode = lifecycle.ModeSplit
		c.ChallengerShare = 1
	})
	given := 0.0
	for _, ev := range events(200) {
		var vd contracts.Verdict
		require.NoError(t, h.lc.Score(&ev, &vd))
		require.Equal(t, challenger, vd.ModelVersion)
		if vd.Decision != contracts.DecisionApprove {
			require.NotEmpty(t, vd.Reasons)
		}
		given += float64(len(vd.Reasons))
	}
	require.Positive(t, given)
	sum := func(version string) float64 {
		total := 0.0
		for _, code := range testenv.BundledModel(t).Reasons.Codes() {
			n, _ := h.value(t, "fraudscore_reasons_total", "model_version", version, "code", code)
			total += n
		}
		return total
	}
	assert.Equal(t, given, sum(challenger))
	assert.Zero(t, sum(champion))
}
