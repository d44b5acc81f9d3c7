package contracts_test

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
)

// featuresBase is a valid verdict with FEATURES standing for the features
// member's value.
const featuresBase = `{"schema_version":"verdict.v1","transaction_id":"t","decision":"approve","score":0,"model_version":"m",` +
	`"policy_version":"p","reasons":[],"features":FEATURES,"scored_at":"2025-06-01T12:00:00Z","scoring_us":0}`

func withFeatures(features string) []byte {
	return []byte(strings.Replace(featuresBase, "FEATURES", features, 1))
}

// manyFeatures is an object of n members named f0, f1, ...
func manyFeatures(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"f` + strconv.Itoa(i) + `":` + strconv.Itoa(i))
	}
	return b.String() + "}"
}

func TestAppendJSONFeaturesKnownOutput(t *testing.T) {
	vd := contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1, TransactionID: "txn_1", Decision: contracts.DecisionDecline,
		Score: 0.9, ModelVersion: "v20250601_120000", PolicyVersion: "p1", Reasons: []string{}, RulesVersion: "v20261202_101500",
		Features: contracts.FeatureValues{
			{Name: "log_amount", Value: 7.170119543449628},
			{Name: "card_txn_count_1h", Value: math.NaN()},
			{Name: "a<b>", Value: 1e21},
			{Name: "card_amount_24h_minor", Value: 125000},
		},
		ScoredAt: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), ScoringMicros: 9,
	}
	want := `{"schema_version":"verdict.v1","transaction_id":"txn_1","decision":"decline","score":0.9,` +
		`"model_version":"v20250601_120000","policy_version":"p1","reasons":[],"rules_version":"v20261202_101500",` +
		`"features":{"log_amount":7.170119543449628,"card_txn_count_1h":null,"a\u003cb\u003e":1e+21,"card_amount_24h_minor":125000},` +
		`"scored_at":"2025-06-01T12:00:00Z","scoring_us":9}`
	out := vd.AppendJSON(nil)
	assert.Equal(t, want, string(out))
	std, err := json.Marshal(vd)
	require.NoError(t, err)
	assert.Equal(t, want, string(std), "encoding/json writes the same bytes")

	var got contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(out, &got))
	requireSameFeatures(t, vd.Features, got.Features, out)
	v, ok := got.Features.Get("card_txn_count_1h")
	assert.True(t, ok && math.IsNaN(v), "null decodes as NaN")
	v, ok = got.Features.Get("card_amount_24h_minor")
	assert.True(t, ok)
	assert.Equal(t, 125000.0, v)
	_, ok = got.Features.Get("new_device")
	assert.False(t, ok)

	vd.Features = contracts.FeatureValues{} // empty is omitted, as omitempty does
	assert.NotContains(t, string(vd.AppendJSON(nil)), "features")
	vd.Features = nil
	assert.NotContains(t, string(vd.AppendJSON(nil)), "features")

	vd.Features = contracts.FeatureValues{{Name: "x", Value: math.Inf(1)}}
	_, err = json.Marshal(vd)
	assert.Error(t, err, "an infinite value is refused by MarshalJSON, as ValidateVerdict refuses it")
	assert.Contains(t, string(vd.AppendJSON(nil)), `"features":{"x":null}`, "AppendJSON keeps its output valid JSON")
}

// Feature values are written exactly as strconv 'g' with the shortest
// precision writes them (the score's format), integers included.
func TestFeatureValuesFormat(t *testing.T) {
	var vals []float64
	for _, v := range []float64{0, 1, 2, 9, 10, 17, 23, 99, 100, 3650, 99999, 100000, 999999, 1e6, 1e6 + 1, 1234567,
		1e15, 1e21, 1e22, 0.5, 1.5, 7.170119543449628, 1e-5, 5e-324, math.MaxFloat64, 999999.5, 1<<53 + 1} {
		vals = append(vals, v, -v)
	}
	for i := -1100000; i <= 1100000; i += 997 {
		vals = append(vals, float64(i))
	}
	for _, v := range vals {
		vd := contracts.Verdict{Features: contracts.FeatureValues{{Name: "x", Value: v}}}
		want := `"features":{"x":` + strconv.FormatFloat(v, 'g', -1, 64) + `}`
		require.Contains(t, string(vd.AppendJSON(nil)), want, "%v", v)
	}
}

func TestDecodeVerdictFeatures(t *testing.T) {
	cases := []struct {
		features string
		kind     contracts.Kind
		paths    []string
	}{
		{`null`, "", nil},
		{`{}`, "", nil},
		{`{"a":1,"b":null,"c":-0.5e-3}`, "", nil},
		{`[]`, contracts.KindMalformed, []string{"features"}},
		{`"x"`, contracts.KindMalformed, []string{"features"}},
		{`{"a":"1","b":2,"c":true,"d":[1],"e":{}}`, contracts.KindMalformed,
			[]string{"features[0]", "features[2]", "features[3]", "features[4]"}},
		{`{"a":1e999}`, contracts.KindInvalid, []string{"features[0]"}},
		{`{"":1}`, contracts.KindInvalid, []string{"features[0]"}},
		{`{"a":1,"b":2,"a":3}`, contracts.KindInvalid, []string{"features[2]"}},
		{`{"4111111111111111":1}`, contracts.KindInvalid, []string{"features[0]"}},
		{`{"` + strings.Repeat("é", 129) + `":1}`, contracts.KindInvalid, []string{"features[0]"}},
		{manyFeatures(contracts.MaxVerdictFeatures), "", nil},
		{manyFeatures(contracts.MaxVerdictFeatures + 1), contracts.KindInvalid, []string{"features"}},
	}
	for _, c := range cases {
		in := withFeatures(c.features)
		var got contracts.Verdict
		err := contracts.DecodeVerdict(in, &got)
		if c.kind == "" {
			require.NoError(t, err, c.features)
			require.NoError(t, contracts.NewValidator().ValidateVerdict(&got), c.features)
			// What was decoded is written back in the same order.
			var again contracts.Verdict
			require.NoError(t, contracts.DecodeVerdict(got.AppendJSON(nil), &again))
			requireSameFeatures(t, got.Features, again.Features, in)
			continue
		}
		var ve *contracts.ValidationError
		require.ErrorAs(t, err, &ve, c.features)
		assert.Equal(t, c.kind, ve.Kind, "%s: %v", c.features, err)
		assert.Equal(t, sorted(c.paths), problemPaths(ve), "%s: %v", c.features, err)
		assert.NotContains(t, err.Error(), "4111", "a name is never echoed")
	}

	var got contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(withFeatures(`{"log_amount":3.1,"card_txn_count_1h":null,"new_device":1}`), &got))
	require.Len(t, got.Features, 3)
	assert.Equal(t, []string{"log_amount", "card_txn_count_1h", "new_device"},
		[]string{got.Features[0].Name, got.Features[1].Name, got.Features[2].Name}, "the payload's order")
	assert.Equal(t, 3.1, got.Features[0].Value)
	assert.True(t, math.IsNaN(got.Features[1].Value))

	// encoding/json alone decodes the same, into a reused verdict too.
	var std contracts.Verdict
	std.Features = contracts.FeatureValues{{Name: "stale", Value: 9}}
	require.NoError(t, json.Unmarshal(withFeatures(`{"log_amount":3.1,"card_txn_count_1h":null,"new_device":1}`), &std))
	requireSameFeatures(t, got.Features, std.Features, nil)
	require.NoError(t, json.Unmarshal(withFeatures(`null`), &std))
	assert.Nil(t, std.Features)
}

func TestValidateVerdictFeatures(t *testing.T) {
	v := contracts.NewValidator()
	vd := typicalVerdict()
	vd.Features = contracts.FeatureValues{{Name: "log_amount", Value: 3}, {Name: "card_txn_count_1h", Value: math.NaN()}}
	require.NoError(t, v.ValidateVerdict(&vd))
	vd.Features = contracts.FeatureValues{
		{Name: "a", Value: math.Inf(-1)}, {Name: "", Value: 1}, {Name: "a", Value: 2},
		{Name: strings.Repeat("x", 129), Value: 0}, {Name: "card 4111 1111 1111 1111", Value: 0},
	}
	err := v.ValidateVerdict(&vd)
	var ve *contracts.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, contracts.KindInvalid, ve.Kind)
	assert.Equal(t, sorted([]string{"features[0]", "features[1]", "features[2]", "features[3]", "features[4]"}), problemPaths(ve))
	assert.NotContains(t, err.Error(), "4111")
}

// The JSON Schema and the Go decoder agree on the features member (except
// where the schema cannot say: a repeated name, a card number as a name,
// an out-of-range number, null, which Go reads as absent).
func TestVerdictSchemaFeatures(t *testing.T) {
	sch := compileSchema(t, contracts.SchemaFileVerdictV1)
	cases := map[string]bool{ // features -> valid
		`{}`: true,
		`{"log_amount":7.170119543449628,"card_txn_count_1h":null,"new_device":0}`: true,
		`{"a":-1e-300,"b":1e300}`:                      true,
		manyFeatures(contracts.MaxVerdictFeatures):     true,
		manyFeatures(contracts.MaxVerdictFeatures + 1): false,
		`[]`:                       false,
		`[{"name":"a","value":1}]`: false,
		`{"a":"1"}`:                false,
		`{"a":true}`:               false,
		`{"a":{}}`:                 false,
		`{"":1}`:                   false,
		`{"` + strings.Repeat("é", 128) + `":1}`: true,
		`{"` + strings.Repeat("é", 129) + `":1}`: false,
	}
	for features, valid := range cases {
		in := withFeatures(features)
		var vd contracts.Verdict
		goErr := contracts.DecodeVerdict(in, &vd)
		schemaErr := schemaValidate(t, sch, in)
		if valid {
			assert.NoError(t, goErr, features)
			assert.NoError(t, schemaErr, features)
		} else {
			assert.Error(t, goErr, features)
			assert.Error(t, schemaErr, features)
		}
	}
}

// BenchmarkAppendVerdictJSONFeatures is BenchmarkAppendVerdictJSON with the
// 17 features of the bundled model as a worker with
// FRAUDSCORE_VERDICT_FEATURES=true writes them: mostly integers (hours,
// flags, codes, counts), three logs and ratios, one missing.
func BenchmarkAppendVerdictJSONFeatures(b *testing.B) {
	vd := typicalVerdict()
	vd.Features = contracts.FeatureValues{
		{"log_amount", 7.170119543449628}, {"hour_of_day_utc", 10}, {"day_of_week_utc", 3}, {"channel", 1},
		{"card_not_present", 1}, {"mcc_risk_group", 1}, {"card_merchant_country_mismatch", 1},
		{"ip_card_country_mismatch", 1}, {"ip_merchant_country_mismatch", 1}, {"account_age_days", 3},
		{"has_device", 1}, {"card_txn_count_1h", 4}, {"log_card_amount_24h", 8.935378829848116},
		{"amount_share_of_24h", 0.3125984251968504}, {"device_card_count_24h", 2}, {"new_device", math.NaN()},
		{"high_risk_merchant_country", 1},
	}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = vd.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
