package contracts_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
)

func reasonVerdict() contracts.Verdict {
	vd := validVerdictForReasons()
	vd.Decision = contracts.DecisionDecline
	vd.Reasons = []string{"IP_CARD_COUNTRY_MISMATCH", "NO_DEVICE"}
	vd.ReasonDetails = []contracts.ReasonDetail{
		{Code: "IP_CARD_COUNTRY_MISMATCH", Feature: "ip_card_country_mismatch", Value: 1, Contribution: 1.25},
		{Code: "NO_DEVICE", Feature: "device_card_count_24h", Value: math.NaN(), Contribution: 0.5},
	}
	return vd
}

func validVerdictForReasons() contracts.Verdict {
	var vd contracts.Verdict
	in := `{"schema_version":"verdict.v1","transaction_id":"t","decision":"approve","score":0.9,"model_version":"m",` +
		`"policy_version":"p","reasons":[],"scored_at":"2025-06-01T12:00:00Z","scoring_us":0}`
	if err := contracts.DecodeVerdict([]byte(in), &vd); err != nil {
		panic(err)
	}
	return vd
}

// A missing value travels as null and comes back as NaN; AppendJSON and
// encoding/json write the same, and DecodeVerdict accepts it.
func TestReasonDetailsRoundTrip(t *testing.T) {
	vd := reasonVerdict()
	out := vd.AppendJSON(nil)
	assert.Contains(t, string(out), `"reasons":["IP_CARD_COUNTRY_MISMATCH","NO_DEVICE"],"reason_details":[`+
		`{"code":"IP_CARD_COUNTRY_MISMATCH","feature":"ip_card_country_mismatch","value":1,"contribution":1.25},`+
		`{"code":"NO_DEVICE","feature":"device_card_count_24h","value":null,"contribution":0.5}]`)
	std, err := json.Marshal(&vd)
	require.NoError(t, err)
	var a, b map[string]any
	require.NoError(t, json.Unmarshal(out, &a))
	require.NoError(t, json.Unmarshal(std, &b))
	assert.Equal(t, b, a)

	var got contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(out, &got))
	require.Len(t, got.ReasonDetails, 2)
	assert.True(t, math.IsNaN(got.ReasonDetails[1].Value))
	got.ReasonDetails[1].Value, vd.ReasonDetails[1].Value = 0, 0
	assert.Equal(t, vd.ReasonDetails, got.ReasonDetails)
	assert.Equal(t, vd.Reasons, got.Reasons)

	// An absent value also means missing.
	var rd contracts.ReasonDetail
	require.NoError(t, json.Unmarshal([]byte(`{"code":"A","feature":"f","contribution":0.1}`), &rd))
	assert.True(t, math.IsNaN(rd.Value))
}

func TestAppendJSONWithReasonsDoesNotAllocate(t *testing.T) {
	vd := reasonVerdict()
	vd.Shadow = []contracts.ShadowResult{{ModelVersion: "m2", PolicyVersion: "p", Score: 0.5, Decision: contracts.DecisionReview}}
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() { buf = vd.AppendJSON(buf[:0]) })
	assert.Zero(t, allocs)
}

// The schema and the Go validator agree on reason details, entry by entry;
// the one rule the schema cannot state (one detail per reason, same code)
// is Go's alone.
func TestReasonDetailsSchemaAgreesWithGo(t *testing.T) {
	sch := compileSchema(t, contracts.SchemaFileVerdictV1)
	base := `{"schema_version":"verdict.v1","transaction_id":"t","decision":"decline","score":0.9,"model_version":"m",` +
		`"policy_version":"p","reasons":REASONS,"scored_at":"2025-06-01T12:00:00Z","scoring_us":0,"reason_details":DETAILS}`
	cases := []struct {
		reasons, details string
		valid            bool
	}{
		{`[]`, `[]`, true},
		{`["A"]`, `[{"code":"A","feature":"f","value":1.5,"contribution":0.25}]`, true},
		{`["A"]`, `[{"code":"A","feature":"f","value":null,"contribution":-0.25}]`, true},
		{`["A"]`, `[{"code":"A","feature":"f","contribution":0.25,"extra":1}]`, true},
		{`["A_1","B"]`, `[{"code":"A_1","feature":"f","value":0,"contribution":1},{"code":"B","feature":"g","value":2,"contribution":0.5}]`, true},
		{`["A"]`, `{}`, false},
		{`["A"]`, `[1]`, false},
		{`["A"]`, `[{}]`, false},
		{`["a"]`, `[{"code":"a","feature":"f","value":1,"contribution":1}]`, false},
		{`["1A"]`, `[{"code":"1A","feature":"f","value":1,"contribution":1}]`, false},
		{`[""]`, `[{"code":"","feature":"f","value":1,"contribution":1}]`, false},
		{`["` + strings.Repeat("A", 65) + `"]`, `[{"code":"` + strings.Repeat("A", 65) + `","feature":"f","value":1,"contribution":1}]`, false},
		{`["A"]`, `[{"code":"A","feature":"","value":1,"contribution":1}]`, false},
		{`["A"]`, `[{"code":"A","feature":"f","value":"1","contribution":1}]`, false},
		{`["A"]`, `[{"code":"A","feature":"f","value":1}]`, false},
		{`["A"]`, `[{"code":"A","feature":"f","value":1,"contribution":null}]`, false},
		{`["A"]`, `[{"code":"A","feature":1,"value":1,"contribution":1}]`, false},
	}
	for _, c := range cases {
		in := []byte(strings.NewReplacer("REASONS", c.reasons, "DETAILS", c.details).Replace(base))
		var vd contracts.Verdict
		goErr := contracts.DecodeVerdict(in, &vd)
		schemaErr := schemaValidate(t, sch, in)
		if c.valid {
			assert.NoError(t, goErr, "%s", in)
			assert.NoError(t, schemaErr, "%s", in)
		} else {
			assert.Error(t, goErr, "%s", in)
			assert.Error(t, schemaErr, "%s", in)
		}
	}
	// Go-only rule: details follow reasons one for one.
	for _, c := range [][2]string{
		{`["A","B"]`, `[{"code":"A","feature":"f","value":1,"contribution":1}]`},
		{`["B"]`, `[{"code":"A","feature":"f","value":1,"contribution":1}]`},
	} {
		in := []byte(strings.NewReplacer("REASONS", c[0], "DETAILS", c[1]).Replace(base))
		var vd contracts.Verdict
		assert.Error(t, contracts.DecodeVerdict(in, &vd), "%s", in)
		assert.NoError(t, schemaValidate(t, sch, in), "%s", in)
	}
}

func TestValidateVerdictReasonDetails(t *testing.T) {
	v := contracts.NewValidator()
	vd := reasonVerdict()
	require.NoError(t, v.ValidateVerdict(&vd))
	vd.ReasonDetails[0].Contribution = math.Inf(1)
	vd.ReasonDetails[1].Value = math.Inf(-1)
	vd.ReasonDetails[1].Feature = "4111111111111111"
	err := v.ValidateVerdict(&vd)
	var ve *contracts.ValidationError
	require.ErrorAs(t, err, &ve)
	var paths []string
	for _, p := range ve.Problems {
		paths = append(paths, p.Path)
	}
	assert.ElementsMatch(t, []string{"reason_details[0].contribution", "reason_details[1].feature", "reason_details[1].value"}, paths)
	_, err = json.Marshal(&vd)
	assert.Error(t, err, "encoding/json must not write an infinite contribution")
}
