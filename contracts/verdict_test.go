package contracts_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomString mixes ASCII, characters encoding/json escapes, multi-byte
// UTF-8 and (unless valid is set) invalid UTF-8.
func randomString(r *rand.Rand, maxLen int, valid bool) string {
	pieces := []string{"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "\n", "\t", "\x00", "\x1f", "\x7f",
		"é", "€", "😀", "\u2028", "\u2029", "\ufffd", "ünïcødé"}
	if !valid {
		pieces = append(pieces, "\xff", "\xc3", "\xed\xa0\x80")
	}
	var b strings.Builder
	for n := r.IntN(maxLen + 1); n > 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

var idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._:-"

// randomVerdict returns a random verdict; with valid set it obeys verdict.v1.
func randomVerdict(r *rand.Rand, valid bool) contracts.Verdict {
	id := make([]byte, 1+r.IntN(64))
	for i := range id {
		id[i] = idAlphabet[r.IntN(len(idAlphabet))]
	}
	vd := contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1,
		TransactionID: string(id),
		Decision:      contracts.Decisions[r.IntN(len(contracts.Decisions))],
		Score:         r.Float64(),
		ModelVersion:  "v20250601_" + randomString(r, 10, true),
		PolicyVersion: "p" + randomString(r, 10, true),
		ScoredAt:      time.Unix(946684800+r.Int64N(4e9), r.Int64N(1e9)).UTC(),
		ScoringMicros: r.Int64N(1e6),
	}
	switch r.IntN(4) {
	case 0:
		vd.Score = float64(r.IntN(2))
	case 1:
		vd.Score = math.SmallestNonzeroFloat64 * float64(r.IntN(1000))
	}
	if !valid {
		vd.TransactionID = randomString(r, 20, false)
		vd.Decision = contracts.Decision(randomString(r, 5, false))
		vd.Score = r.NormFloat64() * 1e30
		vd.ScoringMicros = r.Int64()
	}
	if r.IntN(5) > 0 {
		vd.Reasons = make([]string, r.IntN(5))
		for i := range vd.Reasons {
			vd.Reasons[i] = randomString(r, 12, valid)
		}
	}
	if r.IntN(3) == 0 { // reasons with their details (finite values: NaN != NaN in Equal)
		vd.Reasons, vd.ReasonDetails = nil, make([]contracts.ReasonDetail, 1+r.IntN(3))
		for i := range vd.ReasonDetails {
			code := "CODE_" + strconv.Itoa(r.IntN(100))
			vd.Reasons = append(vd.Reasons, code)
			vd.ReasonDetails[i] = contracts.ReasonDetail{Code: code, Feature: "f" + randomString(r, 10, valid),
				Value: r.NormFloat64() * 100, Contribution: r.NormFloat64()}
		}
	}
	if r.IntN(2) == 0 { // nil or non-empty: an empty slice is omitted, so it decodes as nil
		vd.Shadow = make([]contracts.ShadowResult, 1+r.IntN(2))
		for i := range vd.Shadow {
			vd.Shadow[i] = contracts.ShadowResult{
				ModelVersion:  "v20250701_" + randomString(r, 10, valid),
				PolicyVersion: "p" + randomString(r, 10, valid),
				Score:         r.Float64(),
				Decision:      contracts.Decisions[r.IntN(len(contracts.Decisions))],
			}
		}
	}
	if r.IntN(3) == 0 { // the features the model saw: missing ones (NaN), extremes, unique names
		vd.Features = make(contracts.FeatureValues, 1+r.IntN(17))
		for i := range vd.Features {
			v := []float64{math.NaN(), 0, 1, r.NormFloat64() * 1e3, math.MaxFloat64, -math.SmallestNonzeroFloat64,
				r.Float64() * 1e-300, float64(r.Int64())}[r.IntN(8)]
			vd.Features[i] = contracts.FeatureValue{Name: "f" + strconv.Itoa(i) + "_" + randomString(r, 10, valid), Value: v}
		}
	}
	if r.IntN(3) == 0 { // a rule set applied, and sometimes a rule that decided
		vd.RulesVersion = "v20261202_" + randomString(r, 6, valid)
		if r.IntN(2) == 0 {
			vd.Rule = "rule_" + strconv.Itoa(r.IntN(100))
		}
	}
	return vd
}

func TestAppendJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	zones := []*time.Location{time.UTC, time.FixedZone("X", 5*3600+1800), time.FixedZone("Y", -7*3600)}
	for i := range 2000 {
		vd := randomVerdict(r, i%2 == 0)
		vd.ScoredAt = vd.ScoredAt.In(zones[r.IntN(len(zones))])
		out := vd.AppendJSON(nil)
		require.True(t, json.Valid(out), "%q", out)

		var got contracts.Verdict
		require.NoError(t, json.Unmarshal(out, &got), "%s", out)
		want := vd
		if want.Reasons == nil {
			want.Reasons = []string{}
		}
		std, err := json.Marshal(vd)
		require.NoError(t, err)
		if i%2 == 1 {
			// Invalid UTF-8 is replaced by U+FFFD, as encoding/json does.
			want = contracts.Verdict{Reasons: []string{}}
			require.NoError(t, json.Unmarshal(std, &want))
			if want.Reasons == nil { // json.Marshal wrote null
				want.Reasons = []string{}
			}
		}
		requireSameFeatures(t, want.Features, got.Features, out)
		want.Features, got.Features = nil, nil
		require.True(t, want.ScoredAt.Equal(got.ScoredAt), "scored_at %v != %v", want.ScoredAt, got.ScoredAt)
		assert.Equal(t, time.UTC, got.ScoredAt.Location(), "scored_at must be written in UTC")
		want.ScoredAt, got.ScoredAt = time.Time{}, time.Time{}
		require.Equal(t, want, got, "%s", out)

		// Same meaning as encoding/json's own output.
		var a, b map[string]any
		require.NoError(t, json.Unmarshal(out, &a))
		require.NoError(t, json.Unmarshal(std, &b))
		if vd.Reasons == nil {
			b["reasons"] = []any{}
		}
		delete(a, "scored_at")
		delete(b, "scored_at")
		require.Equal(t, b, a)
	}
}

// requireSameFeatures requires got to be want exactly: the same names in
// the same order, the same values bit for bit, NaN for NaN.
func requireSameFeatures(t *testing.T, want, got contracts.FeatureValues, out []byte) {
	t.Helper()
	require.Len(t, got, len(want), "%s", out)
	for i := range want {
		require.Equal(t, want[i].Name, got[i].Name, "%s", out)
		w, g := want[i].Value, got[i].Value
		require.True(t, math.Float64bits(w) == math.Float64bits(g) || math.IsNaN(w) && math.IsNaN(g),
			"features[%d] %v != %v in %s", i, w, g, out)
	}
}

func TestAppendJSONKnownOutput(t *testing.T) {
	vd := contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1, TransactionID: "txn_1", Decision: contracts.DecisionReview,
		Score: 0.8125, ModelVersion: "v20250601_120000", PolicyVersion: "p<1>&\"2\"",
		ScoredAt:      time.Date(2025, 6, 1, 14, 0, 0, 120000000, time.FixedZone("CEST", 2*3600)),
		ScoringMicros: 137,
	}
	want := `{"schema_version":"verdict.v1","transaction_id":"txn_1","decision":"review","score":0.8125,` +
		`"model_version":"v20250601_120000","policy_version":"p\u003c1\u003e\u0026\"2\"","reasons":[],` +
		`"scored_at":"2025-06-01T12:00:00.12Z","scoring_us":137}`
	assert.Equal(t, want, string(vd.AppendJSON(nil)))
	vd.Reasons = []string{"amount_high", "new_device"}
	vd.Score = math.NaN()
	assert.Contains(t, string(vd.AppendJSON([]byte("prefix"))), `"score":null`)
	assert.True(t, strings.HasPrefix(string(vd.AppendJSON([]byte("prefix"))), "prefix{"))
	assert.Contains(t, string(vd.AppendJSON(nil)), `"reasons":["amount_high","new_device"]`)
}

func TestAppendJSONShadowKnownOutput(t *testing.T) {
	vd := contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1, TransactionID: "txn_1", Decision: contracts.DecisionApprove,
		Score: 0.25, ModelVersion: "v20250601_120000", PolicyVersion: "p1",
		Shadow: []contracts.ShadowResult{
			{ModelVersion: "v20250701_120000", PolicyVersion: "p1", Score: 0.75, Decision: contracts.DecisionReview},
			{ModelVersion: "v<2>", PolicyVersion: "p2", Score: math.Inf(1), Decision: contracts.DecisionDecline},
		},
		ScoredAt: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), ScoringMicros: 9,
	}
	want := `{"schema_version":"verdict.v1","transaction_id":"txn_1","decision":"approve","score":0.25,` +
		`"model_version":"v20250601_120000","policy_version":"p1","reasons":[],` +
		`"shadow":[{"model_version":"v20250701_120000","policy_version":"p1","score":0.75,"decision":"review"},` +
		`{"model_version":"v\u003c2\u003e","policy_version":"p2","score":null,"decision":"decline"}],` +
		`"scored_at":"2025-06-01T12:00:00Z","scoring_us":9}`
	assert.Equal(t, want, string(vd.AppendJSON(nil)))
	vd.Shadow = []contracts.ShadowResult{} // empty is omitted, as omitempty does
	assert.NotContains(t, string(vd.AppendJSON(nil)), "shadow")
}

func TestAppendJSONRuleKnownOutput(t *testing.T) {
	vd := contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1, TransactionID: "txn_1", Decision: contracts.DecisionReview,
		Score: 0.25, ModelVersion: "v20250601_120000", PolicyVersion: "p1",
		Rule: "cross_border", RulesVersion: "v20261202_101500",
		ScoredAt: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), ScoringMicros: 9,
	}
	want := `{"schema_version":"verdict.v1","transaction_id":"txn_1","decision":"review","score":0.25,` +
		`"model_version":"v20250601_120000","policy_version":"p1","reasons":[],` +
		`"rule":"cross_border","rules_version":"v20261202_101500",` +
		`"scored_at":"2025-06-01T12:00:00Z","scoring_us":9}`
	assert.Equal(t, want, string(vd.AppendJSON(nil)))
	vd.Rule = "" // the model decided under the rule set
	assert.NotContains(t, string(vd.AppendJSON(nil)), `"rule":`)
	assert.Contains(t, string(vd.AppendJSON(nil)), `"rules_version":"v20261202_101500"`)
}

func TestValidRuleName(t *testing.T) {
	for _, ok := range []string{"a", "vip_allow", "r2", strings.Repeat("a", 64)} {
		assert.True(t, contracts.ValidRuleName(ok), ok)
	}
	for _, bad := range []string{"", "A", "2r", "vip-allow", "vip allow", "é", strings.Repeat("a", 65)} {
		assert.False(t, contracts.ValidRuleName(bad), bad)
	}
}

func TestAppendJSONDoesNotAllocate(t *testing.T) {
	vd := typicalVerdict()
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(1000, func() { buf = vd.AppendJSON(buf[:0]) })
	assert.Zero(t, allocs)
	vd.Shadow = []contracts.ShadowResult{{ModelVersion: "v20250701_120000", PolicyVersion: "policy-2025-05-20",
		Score: 0.5, Decision: contracts.DecisionReview}}
	allocs = testing.AllocsPerRun(1000, func() { buf = vd.AppendJSON(buf[:0]) })
	assert.Zero(t, allocs, "with a shadow entry")
	vd.Rule, vd.RulesVersion = "cross_border", "v20261202_101500"
	allocs = testing.AllocsPerRun(1000, func() { buf = vd.AppendJSON(buf[:0]) })
	assert.Zero(t, allocs, "with a rule")
	vd.Features = contracts.FeatureValues{{Name: "log_amount", Value: 7.170119543449628},
		{Name: "card_txn_count_1h", Value: math.NaN()}, {Name: "card_amount_24h_minor", Value: 125000}}
	buf = make([]byte, 0, 1024)
	allocs = testing.AllocsPerRun(1000, func() { buf = vd.AppendJSON(buf[:0]) })
	assert.Zero(t, allocs, "with features")
}

func typicalVerdict() contracts.Verdict {
	return contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1, TransactionID: "txn_01HZX3K9Q7WZ8B", Decision: contracts.DecisionDecline,
		Score: 0.9731245, ModelVersion: "v20250601_120000", PolicyVersion: "policy-2025-05-20",
		Reasons:  []string{"amount_24h_high", "new_device", "ip_country_mismatch"},
		ScoredAt: time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC), ScoringMicros: 212,
	}
}

func TestDecodeVerdict(t *testing.T) {
	vd := typicalVerdict()
	var got contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(vd.AppendJSON(nil), &got))
	assert.Equal(t, vd, got)

	// Unknown fields are ignored; null reasons decode as nil.
	ok := `{"schema_version":"verdict.v1","transaction_id":"t","decision":"approve","score":0,"model_version":"m",` +
		`"policy_version":"p","reasons":null,"scored_at":"2025-06-01T12:00:00Z","scoring_us":0,"new_field":[1,2]}`
	require.NoError(t, contracts.DecodeVerdict([]byte(ok), &got))
	assert.Nil(t, got.Reasons)

	cases := []struct {
		in    string
		kind  contracts.Kind
		paths []string
	}{
		{`nope`, contracts.KindMalformed, []string{""}},
		{`{}`, contracts.KindInvalid, []string{"schema_version", "transaction_id", "decision", "model_version", "policy_version", "scored_at"}},
		{`{"schema_version":"verdict.v7","score":"x"}`, contracts.KindInvalid, []string{"schema_version"}},
		{strings.NewReplacer(`"score":0`, `"score":"0.5"`, `"scoring_us":0`, `"scoring_us":-1`, `"reasons":null`, `"reasons":[1,"4111111111111111"]`).Replace(ok),
			contracts.KindMalformed, []string{"score", "scoring_us", "reasons[0]", "reasons[1]"}},
		{strings.NewReplacer(`"decision":"approve"`, `"decision":"allow"`, `"score":0`, `"score":2`).Replace(ok), contracts.KindInvalid, []string{"decision", "score"}},
		{strings.Replace(ok, `"reasons":null`, `"reasons":{}`, 1), contracts.KindMalformed, []string{"reasons"}},
	}
	for _, c := range cases {
		err := contracts.DecodeVerdict([]byte(c.in), &got)
		var ve *contracts.ValidationError
		require.ErrorAs(t, err, &ve, c.in)
		assert.Equal(t, c.kind, ve.Kind, "%s: %v", c.in, err)
		assert.Equal(t, sorted(c.paths), problemPaths(ve), "%s: %v", c.in, err)
	}
	require.ErrorIs(t, contracts.DecodeVerdict(make([]byte, contracts.DefaultMaxEventBytes+1), &got), contracts.ErrTooLarge)
}

func TestDecodeVerdictShadow(t *testing.T) {
	vd := typicalVerdict()
	vd.Shadow = []contracts.ShadowResult{{ModelVersion: "v20250701_120000", PolicyVersion: "p", Score: 0.5,
		Decision: contracts.DecisionReview}}
	var got contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(vd.AppendJSON(nil), &got))
	assert.Equal(t, vd, got)

	base := `{"schema_version":"verdict.v1","transaction_id":"t","decision":"approve","score":0,"model_version":"m",` +
		`"policy_version":"p","reasons":[],"scored_at":"2025-06-01T12:00:00Z","scoring_us":0,"shadow":SHADOW}`
	cases := []struct {
		shadow string
		kind   contracts.Kind
		paths  []string
	}{
		{`null`, "", nil},
		{`[]`, "", nil},
		{`{}`, contracts.KindMalformed, []string{"shadow"}},
		{`[1,null]`, contracts.KindMalformed, []string{"shadow[0]", "shadow[1]"}},
		{`[{}]`, contracts.KindInvalid, []string{"shadow[0].model_version", "shadow[0].policy_version", "shadow[0].decision"}},
		{`[{"model_version":"m","policy_version":"p","score":1.5,"decision":"maybe"}]`, contracts.KindInvalid,
			[]string{"shadow[0].score", "shadow[0].decision"}},
		{`[{"model_version":"m","policy_version":"p","score":0.5,"decision":"review"},{"model_version":7,"policy_version":"p","score":"x","decision":"review"}]`,
			contracts.KindMalformed, []string{"shadow[1].model_version", "shadow[1].score"}},
	}
	for _, c := range cases {
		in := strings.Replace(base, "SHADOW", c.shadow, 1)
		err := contracts.DecodeVerdict([]byte(in), &got)
		if c.kind == "" {
			require.NoError(t, err, in)
			assert.Empty(t, got.Shadow, in)
			continue
		}
		var ve *contracts.ValidationError
		require.ErrorAs(t, err, &ve, in)
		assert.Equal(t, c.kind, ve.Kind, "%s: %v", in, err)
		assert.Equal(t, sorted(c.paths), problemPaths(ve), "%s: %v", in, err)
	}
}

func TestValidateVerdict(t *testing.T) {
	v := contracts.NewValidator()
	vd := typicalVerdict()
	require.NoError(t, v.ValidateVerdict(&vd))
	for _, score := range []float64{math.NaN(), math.Inf(1), -0.01, 1.0001} {
		bad := typicalVerdict()
		bad.Score = score
		require.ErrorIs(t, v.ValidateVerdict(&bad), contracts.ErrInvalid, "score %v", score)
	}
	bad := typicalVerdict()
	bad.Decision = "maybe"
	bad.ModelVersion = ""
	bad.ScoredAt = time.Time{}
	bad.Reasons = []string{"ok", "card 4111 1111 1111 1111"}
	err := v.ValidateVerdict(&bad)
	var ve *contracts.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, sorted([]string{"decision", "model_version", "scored_at", "reasons[1]"}), problemPaths(ve))
	assert.NotContains(t, err.Error(), "4111")

	bad = typicalVerdict()
	bad.Shadow = []contracts.ShadowResult{
		{ModelVersion: "v2", PolicyVersion: "p", Score: 0.5, Decision: contracts.DecisionApprove},
		{ModelVersion: strings.Repeat("v", contracts.MaxVersionLen+1), Score: math.NaN(), Decision: "allow"},
	}
	err = v.ValidateVerdict(&bad)
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, sorted([]string{"shadow[1].model_version", "shadow[1].policy_version", "shadow[1].score",
		"shadow[1].decision"}), problemPaths(ve))
}
