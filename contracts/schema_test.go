package contracts_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func compileSchema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	raw, err := contracts.Schema(name)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "https://github.com/fraudscore/fraudscore/contracts/schemas/" + name
	require.NoError(t, c.AddResource(url, doc))
	sch, err := c.Compile(url)
	require.NoError(t, err)
	return sch
}

func schemaValidate(t testing.TB, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	return sch.Validate(inst)
}

func TestSchemaLookup(t *testing.T) {
	for _, n := range contracts.SchemaNames() {
		b, err := contracts.Schema(n)
		require.NoError(t, err)
		require.True(t, json.Valid(b), n)
	}
	a, err := contracts.Schema(contracts.TransactionEventSchemaV1)
	require.NoError(t, err)
	b, err := contracts.Schema(contracts.SchemaFileTransactionEventV1)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	_, err = contracts.Schema("nope.json")
	require.Error(t, err)
}

func TestEventSchemaAgreesWithGo(t *testing.T) {
	sch := compileSchema(t, contracts.SchemaFileTransactionEventV1)
	for _, ex := range readExamples(t, "valid") {
		assert.NoError(t, schemaValidate(t, sch, ex.data), "valid example %s", ex.name)
	}
	for _, ex := range readExamples(t, "invalid") {
		want := readExpectation(t, ex.name)
		switch want.Schema {
		case "not_json":
			assert.False(t, json.Valid(ex.data), "%s claims not to be JSON", ex.name)
		case "reject":
			assert.Error(t, schemaValidate(t, sch, ex.data), "schema should reject %s", ex.name)
		case "accept":
			// Go-only rule (Luhn, clock): the schema cannot see it.
			assert.NoError(t, schemaValidate(t, sch, ex.data), "%s is documented as a Go-only rule", ex.name)
		}
	}
}

// TestEventSchemaEnums keeps the schema's enumerations in sync with Go.
func TestEventSchemaEnums(t *testing.T) {
	raw, err := contracts.Schema(contracts.SchemaFileTransactionEventV1)
	require.NoError(t, err)
	var s struct {
		Properties struct {
			SchemaVersion struct {
				Const string `json:"const"`
			} `json:"schema_version"`
			Channel struct {
				Enum []contracts.Channel `json:"enum"`
			} `json:"channel"`
		} `json:"properties"`
		Defs struct {
			Currency struct {
				Enum []string `json:"enum"`
			} `json:"currency"`
			Country struct {
				Enum []string `json:"enum"`
			} `json:"country"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(raw, &s))
	assert.Equal(t, contracts.TransactionEventSchemaV1, s.Properties.SchemaVersion.Const)
	assert.Equal(t, contracts.Channels[:], s.Properties.Channel.Enum)
	assert.Equal(t, contracts.CurrencyCodes(), s.Defs.Currency.Enum)
	assert.Equal(t, contracts.CountryCodes(), s.Defs.Country.Enum)
}

func TestVerdictSchema(t *testing.T) {
	sch := compileSchema(t, contracts.SchemaFileVerdictV1)
	r := rand.New(rand.NewPCG(1, 2))
	v := contracts.NewValidator()
	for range 300 {
		vd := randomVerdict(r, true)
		require.NoError(t, v.ValidateVerdict(&vd))
		out := vd.AppendJSON(nil)
		require.NoError(t, schemaValidate(t, sch, out), "%s", out)
	}
	bad := []string{
		`{}`,
		`{"schema_version":"verdict.v1","transaction_id":"t","decision":"maybe","score":0.5,"model_version":"m","policy_version":"p","reasons":[],"scored_at":"2025-06-01T12:00:00Z","scoring_us":1}`,
		`{"schema_version":"verdict.v1","transaction_id":"t","decision":"approve","score":1.5,"model_version":"m","policy_version":"p","reasons":[],"scored_at":"2025-06-01T12:00:00Z","scoring_us":1}`,
		`{"schema_version":"verdict.v1","transaction_id":"t","decision":"approve","score":0.5,"model_version":"m","policy_version":"p","reasons":null,"scored_at":"2025-06-01T12:00:00Z","scoring_us":1}`,
		`{"schema_version":"verdict.v2","transaction_id":"t","decision":"approve","score":0.5,"model_version":"m","policy_version":"p","reasons":[],"scored_at":"2025-06-01T12:00:00Z","scoring_us":1}`,
	}
	for _, b := range bad {
		assert.Error(t, schemaValidate(t, sch, []byte(b)), b)
	}
	// Shadow entries: the schema and the Go validator agree, entry by entry.
	base := `{"schema_version":"verdict.v1","transaction_id":"t","decision":"approve","score":0,"model_version":"m",` +
		`"policy_version":"p","reasons":[],"scored_at":"2025-06-01T12:00:00Z","scoring_us":0,"shadow":SHADOW}`
	shadows := map[string]bool{ // shadow value -> valid
		`[]`: true,
		`[{"model_version":"m2","policy_version":"p","score":0.5,"decision":"review"}]`:                                                                                     true,
		`[{"model_version":"m2","policy_version":"p","score":1,"decision":"decline"},{"model_version":"m3","policy_version":"q","score":0,"decision":"approve","extra":1}]`: true,
		`{}`:   false,
		`[1]`:  false,
		`[{}]`: false,
		`[{"model_version":"","policy_version":"p","score":0.5,"decision":"review"}]`:    false,
		`[{"model_version":"m2","policy_version":"p","score":-0.1,"decision":"review"}]`: false,
		`[{"model_version":"m2","policy_version":"p","score":0.5,"decision":"allow"}]`:   false,
		`[{"model_version":"m2","policy_version":"","score":0.5,"decision":"review"}]`:   false,
	}
	for sh, valid := range shadows {
		in := []byte(strings.Replace(base, "SHADOW", sh, 1))
		var vd contracts.Verdict
		goErr := contracts.DecodeVerdict(in, &vd)
		schemaErr := schemaValidate(t, sch, in)
		if valid {
			assert.NoError(t, goErr, sh)
			assert.NoError(t, schemaErr, sh)
		} else {
			assert.Error(t, goErr, sh)
			assert.Error(t, schemaErr, sh)
		}
	}
	// rule and rules_version: the schema and the Go validator agree.
	rulesCases := map[string]bool{ // members added to base (without shadow) -> valid
		`"rules_version":"v20261202_101500"`:                            true,
		`"rule":"vip_allow","rules_version":"v20261202_101500"`:         true,
		`"rule":"vip_allow"`:                                            false, // rules_version is required with rule
		`"rule":"Vip","rules_version":"v20261202_101500"`:               false,
		`"rule":"vip-allow","rules_version":"v20261202_101500"`:         false,
		`"rule":1,"rules_version":"v20261202_101500"`:                   false,
		`"rules_version":"` + strings.Repeat("v", 129) + `"`:            false,
		`"rule":"` + strings.Repeat("r", 65) + `","rules_version":"v1"`: false,
	}
	for members, valid := range rulesCases {
		in := []byte(strings.Replace(base, `"shadow":SHADOW`, members, 1))
		var vd contracts.Verdict
		goErr := contracts.DecodeVerdict(in, &vd)
		schemaErr := schemaValidate(t, sch, in)
		if valid {
			assert.NoError(t, goErr, members)
			assert.NoError(t, schemaErr, members)
		} else {
			assert.Error(t, goErr, members)
			assert.Error(t, schemaErr, members)
		}
	}
	// Unknown fields are allowed.
	ok := `{"schema_version":"verdict.v1","transaction_id":"t","decision":"approve","score":0,"model_version":"m","policy_version":"p","reasons":[],"scored_at":"2025-06-01T12:00:00.123Z","scoring_us":0,"extra":{"a":1}}`
	assert.NoError(t, schemaValidate(t, sch, []byte(ok)))
}
