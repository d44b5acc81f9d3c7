package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/synthetic"
)

// bundledPolicy is the rule set that make run serves.
func bundledPolicy(t *testing.T) (dir, version string) {
	dir = filepath.Join(testenv.RepoRoot(t), "policies")
	target, err := os.Readlink(filepath.Join(dir, "latest"))
	require.NoError(t, err)
	return dir, target
}

func TestPolicyUsage(t *testing.T) {
	r := runBin(t, "", nil, "policy", "--help")
	require.Zero(t, r.code)
	assert.Contains(t, r.stdout, "usage: fraudscore policy <command>")
	for _, c := range []string{"list", "check", "promote", "rollback", "test"} {
		assert.Contains(t, r.stdout, "\n  "+c+" ")
	}
	r = runBin(t, "", nil, "policy", "test", "--help")
	require.Zero(t, r.code)
	assert.Contains(t, r.stdout, "usage: fraudscore policy test [flags] [FILE|-]")
	assert.Contains(t, r.stdout, "-score")

	for _, args := range [][]string{{"policy"}, {"policy", "frobnicate"}, {"policy", "promote"},
		{"policy", "test", "-score", "0.5"}, {"policy", "test", "-score", "2", "-decision", "review"}} {
		r = runBin(t, "", nil, args...)
		assert.Equal(t, 2, r.code, "%v is a usage error", args)
		assert.Contains(t, r.stderr, "usage: fraudscore policy", args)
	}
	r = runBin(t, "", nil, "help")
	assert.Contains(t, r.stdout, "fraudscore policy <cmd>")
	assert.Contains(t, r.stdout, "FRAUDSCORE_POLICY_DIR")
	assert.Contains(t, r.stdout, "FRAUDSCORE_RULES")
}

func TestPolicyCheck(t *testing.T) {
	dir, v := bundledPolicy(t)
	r := runBin(t, "", nil, "policy", "check", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, v+" ok: 3 rules, every example passed, cost limit 1000\n"), r.stdout)
	assert.Regexp(t, `(?m)^  vip_allow +allow +\d+ +2 +6$`, r.stdout)
	assert.Regexp(t, `(?m)^  gambling_new_account +decline +\d+ +3 +\d+$`, r.stdout)

	// A refused file: exit 1, one line naming the rule and its line.
	file := filepath.Join(testenv.RepoRoot(t), "scorer", "rules", "testdata", "refused", "unknown_field.yaml")
	r = runBin(t, "", nil, "policy", "check", file)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "fraudscore policy check: "+file+`:3: rule typo: rules: unknown name in expression: "event.amount" is not a declared variable (docs/rules.md lists them) (column 1)`+"\n", r.stderr)
}

// tempPolicies is a store with the bundled set as v1 and v2 (latest) and a
// refused set as v3.
func tempPolicies(t *testing.T) (dir, v1, v2, v3 string) {
	src, v := bundledPolicy(t)
	raw, err := os.ReadFile(filepath.Join(src, v, "rules.yaml"))
	require.NoError(t, err)
	dir, v1, v2, v3 = t.TempDir(), "v20261201_000000", "v20261202_000000", "v20261203_000000"
	testenv.WritePolicy(t, dir, v1, string(raw))
	testenv.WritePolicy(t, dir, v2, string(raw))
	testenv.WritePolicy(t, dir, v3, strings.Replace(string(raw), "action: review", "action: block", 1))
	testenv.MoveLink(t, dir, "latest", v2)
	return dir, v1, v2, v3
}

func TestPolicyListPromoteRollback(t *testing.T) {
	dir, v1, v2, v3 := tempPolicies(t)
	r := runBin(t, "", nil, "policy", "list", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `(?m)^  `+v1+`  3 rules$`, r.stdout)
	assert.Regexp(t, `(?m)^\* `+v2+`  3 rules$`, r.stdout)
	assert.Regexp(t, `(?m)^  `+v3+`  refused: .*rule cross_border_elevated_score: rules: unknown action "block"`, r.stdout)

	r = runBin(t, "", nil, "policy", "promote", "-dir", dir, v3)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "refusing to promote "+v3)
	assert.Equal(t, v2, latestOf(t, dir), "a refused set never becomes latest")

	r = runBin(t, "", nil, "policy", "rollback", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "latest -> "+v1+"\n", r.stdout)
	assert.Equal(t, v1, latestOf(t, dir))
	r = runBin(t, "", nil, "policy", "promote", v2, "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, v2, latestOf(t, dir))
}

func eventJSON(t *testing.T, edit func(*contracts.TransactionEvent)) string {
	ev, _ := synthetic.New(synthetic.Config{Seed: 3}).Next()
	edit(&ev)
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	return string(raw)
}

func TestPolicyTest(t *testing.T) {
	dir, _ := bundledPolicy(t)
	vip := eventJSON(t, func(ev *contracts.TransactionEvent) { ev.CardToken = "tok_vip_0001" })
	r := runBin(t, vip, nil, "policy", "test", "-dir", dir, "-score", "0.97", "-decision", "decline")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "model (given): score 0.97, decision decline, reasons []\n")
	assert.Regexp(t, `rules v\d{8}_\d{6}: decision approve by rule vip_allow \(allow\)\n$`, r.stdout)

	plain := eventJSON(t, func(ev *contracts.TransactionEvent) { ev.CardToken = "tok_someone"; ev.IPCountry = ev.CardCountry })
	file := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(file, []byte(plain), 0o644))
	r = runBin(t, "", nil, "policy", "test", "-dir", dir, "-score", "0.3", "-decision", "review", file)
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `decision review \(the model decided\)\n$`, r.stdout)

	// Without -score the bundled model scores the event.
	r = runBin(t, plain, nil, "policy", "test", "-dir", dir, "-models", testenv.ModelDir(t))
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "model "+testenv.BundledVersion(t)+": score ")

	r = runBin(t, `{"schema_version":"transaction_event.v1"}`, nil, "policy", "test", "-dir", dir, "-score", "0.1", "-decision", "approve")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "fraudscore policy test: event: ")
}

func TestPolicyBacktest(t *testing.T) {
	dir, v := bundledPolicy(t)
	models := "-models=" + testenv.ModelDir(t)

	// The set against itself changes nothing; the synthetic traffic is labelled.
	r := runBin(t, "", nil, "policy", "backtest", "-dir", dir, models, "-synthetic", "3000", "-seed", "7", v)
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `^candidate `+v+` against `+v+`: 3000 transactions \(\d+ labelled fraud, \d+ legit\), 0 decisions would change\n`, r.stdout)
	assert.Regexp(t, `(?m)^RULE +ACTION +DECIDED +CHANGED +FRAUD +LEGIT +PRECISION +RECALL$`, r.stdout)
	assert.Regexp(t, `(?m)^model alone +\d+ +\d+ +\d+ +\d+ +\d+ +\d\.\d{3} +\d\.\d{3}$`, r.stdout)

	// NDJSON: a labelled cross-border payment the bundled model approves
	// (the worked example of docs/rules.md) and an unlabelled one.
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "scorer", "rules", "testdata", "backtest.ndjson"))
	require.NoError(t, err)
	r = runBin(t, string(raw), nil, "policy", "backtest", "-dir", dir, models, "-baseline", "none", v, "-")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "candidate "+v+" against the model alone: 2 transactions (1 labelled fraud, 0 legit), 1 decisions would change\n")
	assert.Regexp(t, `(?m)^cross_border_elevated_score +review +1 +1 +1 +0 +1\.000 +1\.000$`, r.stdout)

	for _, args := range [][]string{{"policy", "backtest"}, {"policy", "backtest", "-synthetic", "5", v, "file.ndjson"}} {
		r = runBin(t, "", nil, args...)
		assert.Equal(t, 2, r.code, "%v is a usage error", args)
	}
	r = runBin(t, `{"event": {}, "label": "maybe"}`+"\n", nil, "policy", "backtest", "-dir", dir, models, v)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `fraudscore policy backtest: line 1: label "maybe"`)
}
