package lifecycle_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/scorer/rules"
	"github.com/fraudscore/fraudscore/synthetic"
)

// Rule sets of the tests: the rules match marked card tokens, so that the
// model's decision on every other event is known to stand.
const (
	policyV1 = `rules:
  - name: marked_card
    expression: event.card_token == "tok_rule_decline"
    action: decline
    examples:
      - {match: true, event: {card_token: tok_rule_decline}}
      - {match: false}
  - name: vip
    expression: event.card_token == "tok_rule_vip" && score >= 0.0
    action: allow
    examples:
      - {match: true, event: {card_token: tok_rule_vip}, score: 0.99}
      - {match: false}
`
	// policyRefused names a field that does not exist.
	policyRefused = `rules:
  - name: typo
    expression: event.amount > 1
    action: review
    examples:
      - {match: true}
      - {match: false}
`
	// policyV3 reads the model's features and the challenger in shadow.
	policyV3 = `rules:
  - name: feature_seen
    expression: event.card_token == "tok_rule_features" && features.log_amount > 0.0
    action: review
    examples:
      - {match: true, event: {card_token: tok_rule_features}, features: {log_amount: 4.5}}
      - {match: false, event: {card_token: tok_rule_features}}
  - name: challenger_seen
    expression: event.card_token == "tok_rule_challenger" && challenger.score.hasValue()
    action: decline
    examples:
      - {match: true, event: {card_token: tok_rule_challenger}, challenger: {score: 0.1}}
      - {match: false, event: {card_token: tok_rule_challenger}}
`
	v1, vRefused, v3 = "v20261201_000000", "v20261202_000000", "v20261203_000000"
)

// scoreCard scores a synthetic event under card token tok.
func scoreCard(t *testing.T, lc *lifecycle.Lifecycle, tok string) contracts.Verdict {
	t.Helper()
	ev := events(1)[0]
	ev.CardToken = tok
	var vd contracts.Verdict
	require.NoError(t, lc.Score(&ev, &vd))
	require.NoError(t, contracts.NewValidator().ValidateVerdict(&vd))
	return vd
}

func TestRulesDecideAndReload(t *testing.T) {
	pdir := t.TempDir()
	testenv.WritePolicy(t, pdir, v1, policyV1)
	testenv.WritePolicy(t, pdir, vRefused, policyRefused)
	testenv.WritePolicy(t, pdir, v3, policyV3)
	testenv.MoveLink(t, pdir, "latest", v1)
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), func(c *lifecycle.Config) { c.PolicyDir = pdir })
	require.Equal(t, v1, h.lc.RulesVersion())

	// A rule raises the decision; the verdict names it and the set.
	vd := scoreCard(t, h.lc, "tok_rule_decline")
	assert.Equal(t, contracts.DecisionDecline, vd.Decision)
	assert.Equal(t, "marked_card", vd.Rule)
	assert.Equal(t, v1, vd.RulesVersion)
	n, _ := h.value(t, "fraudscore_rule_decisions_total", "rule", "marked_card", "action", "decline")
	assert.Equal(t, 1.0, n)
	n, ok := h.value(t, "fraudscore_rule_decisions_total", "rule", "vip", "action", "allow")
	assert.True(t, ok, "every rule's series exists from load")
	assert.Zero(t, n)

	// Otherwise the model decides under the set: no rule named. Scoring
	// into the same verdict clears the previous rule.
	ev := events(1)[0]
	require.NoError(t, h.lc.Score(&ev, &vd))
	assert.Empty(t, vd.Rule)
	assert.Equal(t, v1, vd.RulesVersion)
	assert.Equal(t, vd.Shadow[0].Decision, vd.Decision, "the model's decision (the challenger is a copy)")

	// A refused set: counted, logged, the previous one keeps serving.
	testenv.MoveLink(t, pdir, "latest", vRefused)
	h.lc.Reload()
	assert.Equal(t, v1, h.lc.RulesVersion())
	fails, _ := h.value(t, "fraudscore_rule_set_load_failures_total")
	assert.Equal(t, 1.0, fails)
	refused := testenv.Matching(h.log.Records(), testenv.MsgIs("rule set refused; keeping the current one"))
	require.Len(t, refused, 1)
	assert.Equal(t, v1, refused[0]["current_rules_version"])
	assert.Contains(t, refused[0]["err"], `"event.amount" is not a declared variable`)
	assert.Contains(t, refused[0]["err"], "rule typo")
	assert.Equal(t, "marked_card", scoreCard(t, h.lc, "tok_rule_decline").Rule, "v1 still decides")
	info, _ := h.value(t, "fraudscore_rule_set_info", "rules_version", v1)
	assert.Equal(t, 1.0, info)

	// The next move loads v3, whose rules read features and the challenger.
	testenv.MoveLink(t, pdir, "latest", v3)
	h.lc.Reload()
	require.Equal(t, v3, h.lc.RulesVersion())
	_, ok = h.value(t, "fraudscore_rule_set_info", "rules_version", v1)
	assert.False(t, ok, "the old set's info is gone")
	vd = scoreCard(t, h.lc, "tok_rule_features")
	assert.Equal(t, "feature_seen", vd.Rule, "the deciding model's features reached the rule")
	assert.Equal(t, contracts.DecisionReview, vd.Decision)
	vd = scoreCard(t, h.lc, "tok_rule_challenger")
	assert.Equal(t, "challenger_seen", vd.Rule, "the challenger's shadow result reached the rule")
	assert.Equal(t, contracts.DecisionDecline, vd.Decision)
	assert.Empty(t, scoreCard(t, h.lc, "tok_rule_decline").Rule, "v1's rule is gone")
	_, ok = h.value(t, "fraudscore_rule_decisions_total", "rule", "marked_card", "action", "decline")
	assert.False(t, ok, "the series of a rule that is gone are removed")
	_, ok = h.value(t, "fraudscore_rule_decisions_total", "rule", "feature_seen", "action", "review")
	assert.True(t, ok)

	// auto: removing the link turns rules off.
	require.NoError(t, os.Remove(filepath.Join(pdir, "latest")))
	h.lc.Reload()
	assert.Empty(t, h.lc.RulesVersion())
	vd = scoreCard(t, h.lc, "tok_rule_features")
	assert.Empty(t, vd.Rule)
	assert.Empty(t, vd.RulesVersion)
}

// TestAllowLowersTheModel: an allow rule approves what the model declined.
func TestAllowLowersTheModel(t *testing.T) {
	pdir := t.TempDir()
	testenv.WritePolicy(t, pdir, v1, policyV1)
	testenv.MoveLink(t, pdir, "latest", v1)
	h := newHarness(t, testenv.ChampionChallengerStore(t, false), func(c *lifecycle.Config) {
		c.PolicyDir = pdir
		c.ReviewThreshold, c.DeclineThreshold = 0.000001, 0.000001 // the model declines everything
	})
	ev := events(1)[0]
	var vd contracts.Verdict
	require.NoError(t, h.lc.Score(&ev, &vd))
	require.Equal(t, contracts.DecisionDecline, vd.Decision, "the model declines")
	vd = scoreCard(t, h.lc, "tok_rule_vip")
	assert.Equal(t, contracts.DecisionApprove, vd.Decision)
	assert.Equal(t, "vip", vd.Rule)
}

func TestRulesOffAndOn(t *testing.T) {
	pdir := t.TempDir()
	testenv.WritePolicy(t, pdir, v1, policyV1)
	testenv.MoveLink(t, pdir, "latest", v1)
	h := newHarness(t, testenv.ChampionChallengerStore(t, false), func(c *lifecycle.Config) {
		c.PolicyDir, c.Rules = pdir, lifecycle.RulesOff
	})
	vd := scoreCard(t, h.lc, "tok_rule_decline")
	assert.Empty(t, vd.RulesVersion, "off never reads the directory")

	cfg := lifecycle.DefaultConfig()
	assert.Equal(t, lifecycle.RulesAuto, cfg.Rules)
	assert.Equal(t, "policies", cfg.PolicyDir)
	cfg.Rules = "sometimes"
	assert.Contains(t, cfg.Problems(), `FRAUDSCORE_RULES="sometimes" must be auto, on or off`)
	cfg.Rules, cfg.ModelDir, cfg.PolicyDir = lifecycle.RulesOn, testenv.ChampionChallengerStore(t, false), t.TempDir()
	p := cfg.StoreProblems()
	require.Len(t, p, 1)
	assert.Contains(t, p[0], "FRAUDSCORE_RULES=on needs a rule set")
	assert.Contains(t, p[0], rules.ErrNoLatest.Error())
	cfg.PolicyDir = pdir
	assert.Empty(t, cfg.StoreProblems())
}

// TestScoreWithRulesDoesNotAllocate: rules over bounded strings add no
// allocation to Score.
func TestScoreWithRulesDoesNotAllocate(t *testing.T) {
	pdir := t.TempDir()
	testenv.WritePolicy(t, pdir, v1, `rules:
  - name: cross_border
    expression: event.ip_country != "" && event.card_country != event.ip_country && event.mcc in ["7995", "6051"]
    action: review
    examples:
      - {match: true, event: {card_country: FR, ip_country: NG, mcc: "7995"}}
      - {match: false}
`)
	testenv.MoveLink(t, pdir, "latest", v1)
	h := newHarness(t, testenv.ChampionChallengerStore(t, true), func(c *lifecycle.Config) { c.PolicyDir = pdir })
	evs := events(50)
	var vd contracts.Verdict
	require.NoError(t, h.lc.Score(&evs[0], &vd))
	i := 0
	allocs := testing.AllocsPerRun(500, func() {
		if err := h.lc.Score(&evs[i%len(evs)], &vd); err != nil {
			t.Fatal(err)
		}
		i++
	})
	// The rules add pools (the rule work, the activation, CEL's execution
	// frames), each of which the race detector makes drop Puts.
	assert.LessOrEqual(t, allocs, 4*testenv.RaceAllocs)
}

// BenchmarkScoreRules is Lifecycle.Score on the load tester's traffic mix
// (as BenchmarkScoreLoadMix, default reasons) without a rule set, then with
// 50 typical rules (testenv.TypicalRules) over bounded strings only and
// with numbers and the score: the difference is what the rules cost the
// worker per verdict; decided/op is the share of verdicts a rule decided.
func BenchmarkScoreRules(b *testing.B) {
	g := synthetic.New(synthetic.Config{Seed: 1})
	evs := make([]contracts.TransactionEvent, 4096)
	for i := range evs {
		evs[i], _ = g.Next()
	}
	for _, bc := range []struct {
		name  string
		rules string
	}{
		{"rules=off", ""},
		{"rules=50/strings", testenv.TypicalRules(50, false)},
		{"rules=50/numeric", testenv.TypicalRules(50, true)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := lifecycle.DefaultConfig()
			cfg.ModelDir = testenv.ChampionChallengerStore(b, false)
			cfg.PolicyDir, cfg.Rules = b.TempDir(), lifecycle.RulesOff
			if bc.rules != "" {
				testenv.WritePolicy(b, cfg.PolicyDir, v1, bc.rules)
				testenv.MoveLink(b, cfg.PolicyDir, "latest", v1)
				cfg.Rules = lifecycle.RulesOn
			}
			lc, err := lifecycle.New(cfg, lifecycle.Options{Registerer: prometheus.NewRegistry(),
				Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			require.NoError(b, lc.Ready())
			if (lc.RulesVersion() != "") != (bc.rules != "") {
				b.Fatalf("rules version %q", lc.RulesVersion())
			}
			var vd contracts.Verdict
			decided := 0
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := lc.Score(&evs[i%len(evs)], &vd); err != nil {
					b.Fatal(err)
				}
				if vd.Rule != "" {
					decided++
				}
				i++
			}
			b.ReportMetric(float64(decided)/float64(i), "decided/op")
		})
	}
}

// TestRulesOnBlocksReadiness: with FRAUDSCORE_RULES=on a worker is not
// ready, and Loaded stays open, until a rule set loads.
func TestRulesOnBlocksReadiness(t *testing.T) {
	pdir := t.TempDir()
	testenv.WritePolicy(t, pdir, v1, policyV1)
	testenv.WritePolicy(t, pdir, vRefused, policyRefused)
	testenv.MoveLink(t, pdir, "latest", vRefused)
	h := newHarness(t, testenv.ChampionChallengerStore(t, false), func(c *lifecycle.Config) {
		c.PolicyDir, c.Rules = pdir, lifecycle.RulesOn
	})
	err := h.lc.Ready()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no rule set (FRAUDSCORE_RULES=on)")
	assert.Contains(t, err.Error(), "rule typo")
	select {
	case <-h.lc.Loaded():
		t.Fatal("Loaded closed without a rule set")
	default:
	}
	testenv.MoveLink(t, pdir, "latest", v1)
	h.lc.Reload()
	require.NoError(t, h.lc.Ready())
	select {
	case <-h.lc.Loaded():
	default:
		t.Fatal("Loaded still open with a rule set")
	}

	// auto never waits for rules.
	h = newHarness(t, testenv.ChampionChallengerStore(t, false), func(c *lifecycle.Config) { c.PolicyDir = t.TempDir() })
	require.NoError(t, h.lc.Ready())
}
