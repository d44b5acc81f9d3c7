package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/synthetic"
)

const (
	champion   = testenv.ChampionVersion
	challenger = testenv.ChallengerVersion
)

// harness is a lifecycle over a store directory, with its registry and log.
type harness struct {
	lc  *lifecycle.Lifecycle
	reg *prometheus.Registry
	dir string
	log *testenv.Buffer
}

func newHarness(t *testing.T, dir string, mutate func(*lifecycle.Config)) *harness {
	t.Helper()
	cfg := lifecycle.DefaultConfig()
	cfg.ModelDir = dir
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{reg: prometheus.NewRegistry(), dir: dir, log: &testenv.Buffer{}}
	lc, err := lifecycle.New(cfg, lifecycle.Options{Registerer: h.reg,
		Logger: slog.New(slog.NewJSONHandler(h.log, nil))})
	require.NoError(t, err)
	h.lc = lc
	return h
}

// value returns the value of the series of name with exactly labels (a
// counter, a gauge, or a histogram's count), and whether it exists.
func (h *harness) value(t *testing.T, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := h.reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if len(got) != len(labels)/2 {
				continue
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue series
				}
			}
			return metricValue(m), true
		}
	}
	return 0, false
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func events(n int) []contracts.TransactionEvent {
	g := synthetic.New(synthetic.Config{Seed: 99, FraudRate: 0.3})
	out := make([]contracts.TransactionEvent, n)
	for i := range out {
		out[i], _ = g.Next()
	}
	return out
}

func TestShadowModeChampionDecidesChallengerInShadow(t *testing.T) {
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), nil)
	require.NoError(t, h.lc.Ready())
	c, ch := h.lc.Versions()
	require.Equal(t, champion, c)
	require.Equal(t, challenger, ch)

	evs := events(300)
	v := contracts.NewValidator()
	for i := range evs {
		var vd contracts.Verdict
		require.NoError(t, h.lc.Score(&evs[i], &vd))
		require.NoError(t, v.ValidateVerdict(&vd))
		assert.Equal(t, champion, vd.ModelVersion)
		require.Len(t, vd.Shadow, 1)
		sh := vd.Shadow[0]
		assert.Equal(t, challenger, sh.ModelVersion)
		assert.Equal(t, challenger+"/model", sh.PolicyVersion)
		assert.Equal(t, vd.Score, sh.Score, "the two versions are copies of one model")
		assert.Equal(t, vd.Decision, sh.Decision)
	}
	total := 0.0
	for _, d := range contracts.Decisions {
		n, ok := h.value(t, "fraudscore_challenger_decisions_total", "champion_version", champion,
			"challenger_version", challenger, "champion_decision", string(d), "challenger_decision", string(d))
		require.True(t, ok)
		total += n
	}
	assert.Equal(t, float64(len(evs)), total)
	for _, ver := range []string{champion, challenger} {
		n, _ := h.value(t, "fraudscore_score", "model_version", ver)
		assert.Equal(t, float64(len(evs)), n, ver)
	}
	info, _ := h.value(t, "fraudscore_model_info", "model_version", champion)
	assert.Equal(t, 1.0, info)
	_, ok := h.value(t, "fraudscore_model_info", "model_version", challenger)
	assert.False(t, ok, "model_info names the champion alone")
	info, _ = h.value(t, "fraudscore_challenger_info", "model_version", challenger)
	assert.Equal(t, 1.0, info)
	for _, name := range []string{"model_load_timestamp", "fraudscore_model_created_timestamp"} {
		ts, ok := h.value(t, name)
		assert.True(t, ok && ts > 0, name)
	}
}

// inShare is the split rule computed independently with hash/fnv.
func inShare(card string, share float64) bool {
	f := fnv.New64a()
	_, _ = f.Write([]byte(card))
	return float64(f.Sum64()>>11) < share*(1<<53)
}

func TestSplitModeIsDeterministicByCard(t *testing.T) {
	const share = 0.3
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), func(c *lifecycle.Config) {
		c.ChallengerMode = lifecycle.ModeSplit
		c.ChallengerShare = share
	})
	evs := events(40)
	decidedByChallenger := 0
	const cards = 2000
	for i := range cards {
		ev := evs[i%len(evs)]
		ev.CardToken = "tok_card_" + strconv.Itoa(i)
		want := inShare(ev.CardToken, share)
		require.Equal(t, want, lifecycle.InChallengerShare(ev.CardToken, share), ev.CardToken)
		for range 2 { // the same card twice: the same model
			var vd contracts.Verdict
			require.NoError(t, h.lc.Score(&ev, &vd))
			require.Len(t, vd.Shadow, 1)
			if want {
				assert.Equal(t, challenger, vd.ModelVersion, ev.CardToken)
				assert.Equal(t, champion, vd.Shadow[0].ModelVersion, ev.CardToken)
			} else {
				assert.Equal(t, champion, vd.ModelVersion, ev.CardToken)
				assert.Equal(t, challenger, vd.Shadow[0].ModelVersion, ev.CardToken)
			}
		}
		if want {
			decidedByChallenger++
		}
	}
	// The hash spreads the cards: the share is near the setting (the
	// membership above is exact; this only shows the split is not empty).
	assert.Positive(t, decidedByChallenger)
	assert.Less(t, decidedByChallenger, cards)

	for _, s := range []float64{0, 1} {
		for i := range 100 {
			card := "tok_" + strconv.Itoa(i)
			assert.Equal(t, s == 1, lifecycle.InChallengerShare(card, s), "share %v card %s", s, card)
		}
	}
	f := fnv.New64a()
	_, _ = f.Write([]byte("tok_abc"))
	assert.Equal(t, f.Sum64(), lifecycle.CardHash("tok_abc"))
}

func TestRefusedChallengerLeavesTheChampionServing(t *testing.T) {
	cases := map[string]func(t *testing.T, dir string) string{
		"missing version": func(t *testing.T, dir string) string { return "v20990101_000000" },
		"tampered model file": func(t *testing.T, dir string) string {
			vdir := testenv.CopyBundled(t, dir, "v20250301_000000")
			meta, err := modelstore.Open(dir).ReadMetadata("v20250301_000000")
			require.NoError(t, err)
			f, err := os.OpenFile(filepath.Join(vdir, meta.ModelFile), os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString(" ")
			require.NoError(t, err)
			require.NoError(t, f.Close())
			return "v20250301_000000"
		},
		"corrupt metadata": func(t *testing.T, dir string) string {
			vdir := testenv.CopyBundled(t, dir, "v20250301_000000")
			require.NoError(t, os.WriteFile(filepath.Join(vdir, modelstore.MetadataFile), []byte("{not json"), 0o644))
			return "v20250301_000000"
		},
		"parity gate fails": func(t *testing.T, dir string) string {
			vdir := testenv.CopyBundled(t, dir, "v20250301_000000")
			testenv.EditMetadata(t, vdir, func(m map[string]any) {
				rows := m["golden_rows"].([]any)
				row := rows[0].(map[string]any)
				row["probability"] = 1 - row["probability"].(float64)
			})
			return "v20250301_000000"
		},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			dir := testenv.ChampionChallengerStore(t, false)
			testenv.MoveLink(t, dir, modelstore.ChallengerLink, bad(t, dir))
			h := newHarness(t, dir, nil)
			// The fault bit: the load was refused, counted and logged.
			fails, _ := h.value(t, "fraudscore_model_load_failures_total")
			require.Equal(t, 1.0, fails)
			assert.Contains(t, h.log.String(), "challenger model refused")
			// The invariant: the champion serves alone.
			require.NoError(t, h.lc.Ready())
			c, ch := h.lc.Versions()
			assert.Equal(t, champion, c)
			assert.Empty(t, ch)
			ev := events(1)[0]
			var vd contracts.Verdict
			require.NoError(t, h.lc.Score(&ev, &vd))
			assert.Equal(t, champion, vd.ModelVersion)
			assert.Empty(t, vd.Shadow)
			// Reload (SIGHUP) tries the refused version again.
			h.lc.Reload()
			fails, _ = h.value(t, "fraudscore_model_load_failures_total")
			assert.Equal(t, 2.0, fails, "Reload retries a refused version")
		})
	}
}

func TestReloadOnLinkMoveAndOnReload(t *testing.T) {
	dir := testenv.ChampionChallengerStore(t, false)
	h := newHarness(t, dir, func(c *lifecycle.Config) { c.ReloadInterval = 100 * time.Millisecond })
	_, ch := h.lc.Versions()
	require.Empty(t, ch)

	// Reload (SIGHUP) picks up a new challenger link at once.
	testenv.MoveLink(t, dir, modelstore.ChallengerLink, challenger)
	h.lc.Reload()
	_, ch = h.lc.Versions()
	require.Equal(t, challenger, ch)

	// Run notices a moved latest link and a removed challenger link.
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); h.lc.Run(ctx) }()

	testenv.CopyBundled(t, dir, "v20250301_000000")
	testenv.MoveLink(t, dir, modelstore.LatestLink, "v20250301_000000")
	require.Eventually(t, func() bool { c, _ := h.lc.Versions(); return c == "v20250301_000000" },
		30*time.Second, 20*time.Millisecond, "latest moved")
	require.NoError(t, os.Remove(filepath.Join(dir, modelstore.ChallengerLink)))
	require.Eventually(t, func() bool { _, c := h.lc.Versions(); return c == "" }, 30*time.Second, 20*time.Millisecond,
		"challenger removed")
	_, ok := h.value(t, "fraudscore_challenger_info", "model_version", challenger)
	assert.False(t, ok)
	info, _ := h.value(t, "fraudscore_model_info", "model_version", "v20250301_000000")
	assert.Equal(t, 1.0, info)
	_, ok = h.value(t, "fraudscore_model_info", "model_version", champion)
	assert.False(t, ok, "the old champion's info is gone")
}

func TestNotReadyWithoutChampion(t *testing.T) {
	dir := testenv.ChampionChallengerStore(t, true)
	require.NoError(t, os.Remove(filepath.Join(dir, modelstore.LatestLink)))
	h := newHarness(t, dir, nil)
	require.Error(t, h.lc.Ready())
	ev := events(1)[0]
	var vd contracts.Verdict
	require.ErrorIs(t, h.lc.Score(&ev, &vd), scorer.ErrNoModel)
	select {
	case <-h.lc.Loaded():
		t.Fatal("loaded without a champion")
	default:
	}
	testenv.MoveLink(t, dir, modelstore.LatestLink, champion)
	h.lc.Reload()
	require.NoError(t, h.lc.Ready())
	<-h.lc.Loaded()
	_, ch := h.lc.Versions()
	assert.Equal(t, challenger, ch, "the challenger loads with the champion")
}

func TestFailingChallengerKeepsTheChampionsVerdict(t *testing.T) {
	for _, mode := range []string{lifecycle.ModeShadow, lifecycle.ModeSplit} {
		for _, fault := range []string{"panic", "error"} {
			t.Run(mode+"/"+fault, func(t *testing.T) {
				h := newHarness(t, testenv.ChampionChallengerStore(t, true), func(c *lifecycle.Config) {
					c.ChallengerMode = mode
					c.ChallengerShare = 1 // split: the challenger would decide every card
				})
				hits := 0
				lifecycle.SetHook(h.lc, func(v string) error {
					if v != challenger {
						return nil
					}
					hits++
					if fault == "panic" {
						panic("challenger broke")
					}
					return errors.New("challenger broke")
				})
				evs := events(20)
				for i := range evs {
					var vd contracts.Verdict
					require.NoError(t, h.lc.Score(&evs[i], &vd))
					assert.Equal(t, champion, vd.ModelVersion)
					assert.Empty(t, vd.Shadow)
					require.NoError(t, contracts.NewValidator().ValidateVerdict(&vd))
				}
				// The fault happened and was counted, and logged once.
				require.Equal(t, len(evs), hits)
				n, _ := h.value(t, "fraudscore_challenger_errors_total", "challenger_version", challenger)
				assert.Equal(t, float64(len(evs)), n)
				assert.Equal(t, 1, bytes.Count([]byte(h.log.String()), []byte("logged once per version")))
			})
		}
	}
}

func TestDeciderErrorCarriesItsVersion(t *testing.T) {
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), nil)
	boom := errors.New("champion broke")
	lifecycle.SetHook(h.lc, func(v string) error {
		if v == champion {
			return boom
		}
		return nil
	})
	ev := events(1)[0]
	var vd contracts.Verdict
	require.ErrorIs(t, h.lc.Score(&ev, &vd), boom)
	assert.Equal(t, champion, vd.ModelVersion, "an error is counted under the version that failed")
	assert.Equal(t, champion+"/model", vd.PolicyVersion)
}

func TestScoreWithChallengerDoesNotAllocate(t *testing.T) {
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), nil)
	evs := events(50)
	var vd contracts.Verdict
	require.NoError(t, h.lc.Score(&evs[0], &vd)) // room for the shadow entry
	i := 0
	allocs := testing.AllocsPerRun(500, func() {
		if err := h.lc.Score(&evs[i%len(evs)], &vd); err != nil {
			t.Fatal(err)
		}
		i++
	})
	// Two pooled rows per call: under -race sync.Pool drops a quarter of
	// its Puts, so allow that and no more.
	assert.LessOrEqual(t, allocs, testenv.RaceAllocs)
}

func TestConfig(t *testing.T) {
	def := lifecycle.DefaultConfig()
	assert.Empty(t, def.Problems())
	assert.Equal(t, "models", def.ModelDir)
	assert.Equal(t, lifecycle.ModeShadow, def.ChallengerMode)
	assert.Equal(t, 0.05, def.ChallengerShare)
	assert.Equal(t, 10000, def.DriftWindow)

	bad := def
	bad.ChallengerShare = 1.5
	bad.ChallengerMode = "canary"
	assert.Equal(t, []string{
		`FRAUDSCORE_CHALLENGER_MODE="canary" must be shadow or split`,
		`FRAUDSCORE_CHALLENGER_SHARE=1.5 must be between 0 and 1`,
	}, bad.Problems())
	_, err := lifecycle.New(bad, lifecycle.Options{Registerer: prometheus.NewRegistry()})
	require.ErrorIs(t, err, lifecycle.ErrSettings)

	split := def
	split.ChallengerMode = lifecycle.ModeSplit
	split.ModelDir = testenv.ChampionChallengerStore(t, false)
	p := split.StoreProblems()
	require.Len(t, p, 1)
	assert.Contains(t, p[0], "FRAUDSCORE_CHALLENGER_MODE=split needs a challenger")
	split.ModelDir = testenv.ChampionChallengerStore(t, true)
	assert.Empty(t, split.StoreProblems())

	missing := def
	missing.ModelDir = filepath.Join(t.TempDir(), "none")
	assert.Equal(t, []string{fmt.Sprintf("FRAUDSCORE_MODEL_DIR: model directory %s does not exist", missing.ModelDir)},
		missing.StoreProblems())
}
