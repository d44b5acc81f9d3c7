package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/synthetic"
)

// markedRule is a rule set whose one rule gives a marked card the action.
func markedRule(name, action string) string {
	return fmt.Sprintf(`rules:
  - name: %s
    expression: event.card_token == "tok_marked"
    action: %s
    examples:
      - {match: true, event: {card_token: tok_marked}}
      - {match: false}
`, name, action)
}

// TestWorkerReloadsRulesOnSIGHUP: a worker serves the rule set latest
// names; after SIGHUP a refused set is logged and counted while the
// previous one keeps deciding, and a good one replaces it, without a
// restart.
func TestWorkerReloadsRulesOnSIGHUP(t *testing.T) {
	pdir := t.TempDir()
	const v1, bad, v3 = "v20261201_000000", "v20261202_000000", "v20261203_000000"
	testenv.WritePolicy(t, pdir, v1, markedRule("marked_decline", "decline"))
	testenv.WritePolicy(t, pdir, bad, strings.Replace(markedRule("marked_typo", "review"), "event.card_token", "event.card", 1))
	testenv.WritePolicy(t, pdir, v3, markedRule("marked_review", "review"))
	testenv.MoveLink(t, pdir, "latest", v1)
	// An hour between link checks: only SIGHUP reloads during the test.
	w, httpAddr, natsURL := readyWorker(t, "FRAUDSCORE_POLICY_DIR="+pdir, "FRAUDSCORE_MODEL_RELOAD_INTERVAL=1h")

	ev := synthEvents(synthetic.Config{Seed: 5}, 1)[0]
	score := func(id string) (decision, rule, rulesVersion string) {
		t.Helper()
		ev.TransactionID, ev.CardToken = id, "tok_marked"
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		r := runBin(t, string(raw), nil, "score", "-url="+natsURL, "-")
		require.Zero(t, r.code, r.stderr)
		vds := verdictLines(t, r.stdout)
		require.Len(t, vds, 1)
		return string(vds[0].Decision), vds[0].Rule, vds[0].RulesVersion
	}
	d, rule, rv := score("t-rules-1")
	assert.Equal(t, []string{"decline", "marked_decline", v1}, []string{d, rule, rv})

	waitLog := func(msg, key, value string) {
		t.Helper()
		require.Eventually(t, func() bool {
			for _, rec := range testenv.Matching(w.Records(), testenv.MsgIs(msg)) {
				if fmt.Sprint(rec[key]) == value || strings.Contains(fmt.Sprint(rec[key]), value) {
					return true
				}
			}
			return false
		}, 30*time.Second, 50*time.Millisecond, "log %q with %s=%s", msg, key, value)
	}
	testenv.MoveLink(t, pdir, "latest", bad)
	w.Signal(t, syscall.SIGHUP)
	waitLog("rule set refused; keeping the current one", "err", `rule marked_typo: rules: unknown name in expression: "event.card"`)
	d, rule, rv = score("t-rules-2")
	assert.Equal(t, []string{"decline", "marked_decline", v1}, []string{d, rule, rv}, "the previous set keeps deciding")
	metrics := testenv.HTTPBody(t, "http://"+httpAddr+"/metrics")
	assert.Contains(t, metrics, "fraudscore_rule_set_load_failures_total 1\n")
	assert.Contains(t, metrics, `fraudscore_rule_decisions_total{action="decline",rule="marked_decline"} 2`)

	testenv.MoveLink(t, pdir, "latest", v3)
	w.Signal(t, syscall.SIGHUP)
	waitLog("rule set loaded", "rules_version", v3)
	d, rule, rv = score("t-rules-3")
	assert.Equal(t, []string{"review", "marked_review", v3}, []string{d, rule, rv})
}
