package rules_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

func loadGood(t testing.TB) *rules.Set {
	t.Helper()
	s, err := rules.LoadFile(filepath.Join("testdata", "good.yaml"), "v20261202_000000")
	require.NoError(t, err)
	return s
}

func TestGoodSetLoads(t *testing.T) {
	s := loadGood(t)
	require.Equal(t, 8, s.Len())
	r := s.Rule(1)
	assert.Equal(t, "cross_border_high_score", r.Name)
	assert.Equal(t, rules.ActionReview, r.Action)
	assert.Equal(t, 14, r.Line, "the rule's line in the YAML")
	assert.Equal(t, 3, r.Examples)
	assert.Equal(t, []string{"event.card_country", "event.ip_country", "score"}, r.Variables)
	assert.True(t, s.UsesFeatures(), "night_atm_feature reads features.hour_of_day_utc")
	for i := range s.Len() {
		assert.LessOrEqual(t, s.Rule(i).Cost, uint64(rules.MaxRuleCost), s.Rule(i).Name)
		assert.Positive(t, s.Rule(i).Cost, s.Rule(i).Name)
	}
}

// TestRefused: every way a set is refused names the sentinel, the rule and
// its line in the YAML.
func TestRefused(t *testing.T) {
	cases := []struct {
		file string
		want error
		rule string
		line int
		msg  string
	}{
		{"yaml_syntax.yaml", rules.ErrYAML, "", 3, ""},
		{"unknown_key.yaml", rules.ErrYAML, "#1", 4, `unknown key "severity"`},
		{"bad_name.yaml", rules.ErrName, "#1", 2, `"Big Amount"`},
		{"duplicate.yaml", rules.ErrDuplicate, "big_amount", 8, "also at line 2"},
		{"syntax.yaml", rules.ErrSyntax, "broken", 12, ""},
		{"unknown_field.yaml", rules.ErrUnknownName, "typo", 3, "event.amount"},
		{"type_error.yaml", rules.ErrType, "string_vs_int", 3, "_>_"},
		{"not_bool.yaml", rules.ErrNotBool, "arithmetic", 3, "int"},
		{"cost.yaml", rules.ErrCost, "cubic", 4, "limit 1000"},
		{"unknown_action.yaml", rules.ErrAction, "big_amount", 4, `"block"`},
		{"no_examples.yaml", rules.ErrExamples, "big_amount", 2, ""},
		{"one_sided_examples.yaml", rules.ErrExamples, "big_amount", 6, "1 example(s) it matches and 0"},
		{"failing_example.yaml", rules.ErrExample, "big_amount", 7, "says match: true, the expression gives false"},
		{"example_unknown_field.yaml", rules.ErrExample, "big_amount", 6, `unknown field "amount"`},
		{"empty.yaml", rules.ErrNoRules, "", 1, ""},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			file := filepath.Join("testdata", "refused", c.file)
			s, err := rules.LoadFile(file, "v20261202_000000")
			require.Error(t, err)
			assert.Nil(t, s)
			require.ErrorIs(t, err, c.want)
			var re *rules.RuleError
			require.True(t, errors.As(err, &re), "a *RuleError: %v", err)
			assert.Equal(t, file, re.File)
			assert.Equal(t, c.rule, re.Rule)
			assert.Equal(t, c.line, re.Line, "line of %v", err)
			assert.Contains(t, err.Error(), c.msg)
			if c.rule != "" {
				assert.Contains(t, err.Error(), "rule "+c.rule)
			}
		})
	}
}

func TestNotAFile(t *testing.T) {
	_, err := rules.LoadFile(t.TempDir(), "v20261202_000000")
	require.Error(t, err)
	big := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(big, []byte(strings.Repeat("#", rules.MaxFileBytes+1)), 0o644))
	_, err = rules.LoadFile(big, "v20261202_000000")
	require.ErrorContains(t, err, "too large")
}

func event() *contracts.TransactionEvent {
	ev := rules.ExampleEvent()
	return &ev
}

func TestEvaluateCombines(t *testing.T) {
	s := loadGood(t)
	cases := []struct {
		name    string
		edit    func(in *rules.Input)
		want    contracts.Decision
		rule    string
		comment string
	}{
		{"nothing matches", func(in *rules.Input) {}, contracts.DecisionApprove, "", ""},
		{"model declines, nothing lowers it", func(in *rules.Input) { in.Score, in.Decision = 0.9, contracts.DecisionDecline },
			contracts.DecisionDecline, "", ""},
		{"allow lowers a decline", func(in *rules.Input) {
			in.Event.CardToken, in.Score, in.Decision = "tok_vip_2", 0.99, contracts.DecisionDecline
		}, contracts.DecisionApprove, "vip_allow", ""},
		{"allow beats a matching decline rule", func(in *rules.Input) {
			in.Event.CardToken, in.Event.MCC, in.Event.AccountAgeDays = "tok_vip_1", "7995", 1
		}, contracts.DecisionApprove, "vip_allow", ""},
		{"review raises approve", func(in *rules.Input) {
			in.Event.IPCountry, in.Score = "NG", 0.35
		}, contracts.DecisionReview, "cross_border_high_score", ""},
		{"a review rule does not decide what the model already reviews", func(in *rules.Input) {
			in.Event.IPCountry, in.Score, in.Decision = "NG", 0.6, contracts.DecisionReview
		}, contracts.DecisionReview, "", ""},
		{"most severe wins over file order", func(in *rules.Input) {
			in.Event.IPCountry, in.Score = "NG", 0.35
			in.Event.MCC, in.Event.AccountAgeDays = "6051", 3
		}, contracts.DecisionDecline, "gambling_new_account", ""},
		{"first of equal severity in file order", func(in *rules.Input) {
			in.Event.IPCountry, in.Score = "NG", 0.35
			n := int32(11)
			in.Event.Aggregates = &contracts.Aggregates{CardTxnCount1h: &n}
		}, contracts.DecisionReview, "cross_border_high_score", ""},
		{"challenger in shadow", func(in *rules.Input) {
			in.Challenger = &contracts.ShadowResult{ModelVersion: "v2", Score: 0.9, Decision: contracts.DecisionDecline}
		}, contracts.DecisionReview, "challenger_disagrees", ""},
		{"features", func(in *rules.Input) {
			in.Event.Channel = contracts.ChannelATM
			var f [features.Count]float64
			for i := range f {
				f[i] = math.NaN()
			}
			f[indexOf(t, features.HourOfDay)] = 2
			in.Features = &f
		}, contracts.DecisionReview, "night_atm_feature", ""},
		{"reasons and prefix", func(in *rules.Input) {
			in.Event.MerchantID = "m_watch_3"
			in.Reasons = []string{"NEW_DEVICE"}
		}, contracts.DecisionDecline, "merchant_prefix_watch", ""},
		{"approve rules never decide", func(in *rules.Input) { in.Event.AmountMinor = 10 }, contracts.DecisionApprove, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := &rules.Input{Event: event(), Score: 0.1, Decision: contracts.DecisionApprove, ModelVersion: "v1"}
			c.edit(in)
			out := s.Evaluate(in, nil)
			assert.Equal(t, c.want, out.Decision)
			assert.Equal(t, c.rule, out.RuleName)
			if c.rule == "" {
				assert.Equal(t, -1, out.Rule)
			} else {
				assert.Equal(t, c.rule, s.Rule(out.Rule).Name)
			}
		})
	}
}

func indexOf(t *testing.T, name string) int {
	for i, n := range features.Names() {
		if n == name {
			return i
		}
	}
	t.Fatalf("no feature %s", name)
	return -1
}

type errCount struct{ rules []int }

func (e *errCount) RuleFailed(rule int, err error) { e.rules = append(e.rules, rule) }

// TestEvaluationErrorDoesNotMatch: .value() of an absent optional is an
// evaluation error; the rule does not match and the error is reported.
func TestEvaluationErrorDoesNotMatch(t *testing.T) {
	raw := []byte(`rules:
  - name: needs_value
    expression: event.card_txn_count_1h.value() > 5
    action: decline
    examples:
      - {match: true, event: {aggregates: {card_txn_count_1h: 6}}}
      - {match: false, event: {aggregates: {card_txn_count_1h: 1}}}
`)
	s, err := rules.Parse("inline.yaml", raw, "v1")
	require.NoError(t, err)
	var errs errCount
	out := s.Evaluate(&rules.Input{Event: event(), Decision: contracts.DecisionApprove}, &errs)
	assert.Equal(t, contracts.DecisionApprove, out.Decision)
	assert.Equal(t, []int{0}, errs.rules, "the failure is reported")
}

func TestVariablesDeclared(t *testing.T) {
	vs := rules.Variables()
	names := map[string]string{}
	for _, v := range vs {
		names[v.Name] = v.Type
	}
	assert.Equal(t, "int", names["event.amount_minor"])
	assert.Equal(t, "double", names["score"])
	assert.Equal(t, "list(string)", names["reasons"])
	assert.Equal(t, "optional_type(double)", names["challenger.score"])
	for _, f := range features.Names() {
		assert.Equal(t, "double", names["features."+f])
	}
}

func TestFeatureValues(t *testing.T) {
	f := rules.FeatureValues([]string{features.HourOfDay, features.LogAmount}, []float64{3, 7.5})
	assert.Equal(t, 3.0, f[indexOf(t, features.HourOfDay)])
	assert.Equal(t, 7.5, f[indexOf(t, features.LogAmount)])
	assert.True(t, math.IsNaN(f[indexOf(t, features.NewDevice)]), "a feature the model does not read is NaN")
}

// TestEveryVariableResolves: each declared name evaluates (the switch in
// the activation and the declarations agree).
func TestEveryVariableResolves(t *testing.T) {
	for _, v := range rules.Variables() {
		expr := v.Name + " == " + v.Name
		if strings.HasPrefix(v.Type, "optional_type") {
			expr = "!" + v.Name + ".hasValue() || " + v.Name + ".hasValue()"
		}
		if v.Type == "double" {
			expr = v.Name + " == " + v.Name + " || true" // NaN != NaN
		}
		raw := "rules:\n  - name: r\n    expression: '" + expr + "'\n    action: review\n    examples:\n      - {match: true}\n      - {match: false, score: 0.1, event: {amount_minor: 0}}\n"
		_, err := rules.Parse("v.yaml", []byte(raw), "v")
		require.ErrorIs(t, err, rules.ErrExample, "%s: the only failure is the false example, so it evaluated: %v", v.Name, err)
		assert.Contains(t, err.Error(), "says match: false, the expression gives true", v.Name)
	}
}
