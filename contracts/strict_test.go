package contracts_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// strictCase is a payload that breaks one strict-input rule (strict.go).
type strictCase struct {
	name string
	data []byte
	// path is the problem's path; msg starts its message.
	path, msg string
	// secret is a part of the offending bytes that the error must not echo.
	secret string
}

// nested returns n nested arrays.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// strictCases covers every class of strict rule at every kind of place:
// a known field, an unknown field, a key, aggregates and nested values.
func strictCases() []strictCase {
	const (
		utf8Msg  = "invalid UTF-8 in a string at byte offset "
		surrMsg  = "unpaired UTF-16 surrogate escape in a string at byte offset "
		ctrlMsg  = "unescaped control character in a string at byte offset "
		dupMsg   = "duplicate key at byte offset "
		hugeMsg  = "number beyond the range of a 64-bit float at byte offset "
		deepMsg  = "objects and arrays nested deeper than 32 levels at byte offset "
		intMsg   = "must be an integer"
		int64Msg = "must fit in a signed 64-bit integer"
		int32Msg = "must fit in a signed 32-bit integer"
	)
	tok := `"tok_c8f1e2a94b7d"`
	return []strictCase{
		// Invalid UTF-8: encoding/json would turn it into U+FFFD.
		{"utf8 card_token", edit(tok, "\"tok\xff\xfe\""), "card_token", utf8Msg, "tok\xff"},
		{"utf8 truncated sequence", edit(tok, "\"4111\xc3\""), "card_token", utf8Msg, "4111"},
		{"utf8 overlong", edit(tok, "\"tok\xc0\xaf\""), "card_token", utf8Msg, "\xc0"},
		{"utf8 encoded surrogate", edit(tok, "\"tok\xed\xa0\x80\""), "card_token", utf8Msg, "\xed"},
		{"utf8 unknown field", withExtra("\"x\":\"4111\xff1111\""), "", utf8Msg, "4111"},
		{"utf8 key", withExtra("\"k\xff\":1"), "", utf8Msg, "k\xff"},
		{"utf8 nested", withExtra("\"x\":{\"y\":[\"\xfe\"]}"), "", utf8Msg, "\xfe"},
		{"utf8 aggregates member", withExtra("\"aggregates\":{\"z\":\"\xff\"}"), "aggregates", utf8Msg, "\xff"},
		// Unpaired surrogate escapes: also U+FFFD in encoding/json.
		{"high surrogate alone", edit(tok, `"tok\ud800"`), "card_token", surrMsg, `\ud800`},
		{"low surrogate alone", edit(tok, `"\udc00tok"`), "card_token", surrMsg, `\udc00`},
		{"high surrogate then letter", withExtra(`"x":"\uD800\u0041"`), "", surrMsg, `\uD800`},
		{"surrogate in key", withExtra(`"\udfff":1`), "", surrMsg, `\udfff`},
		// Raw control characters.
		{"NUL in card_token", edit(tok, "\"tok\x00x\""), "card_token", ctrlMsg, "tok\x00"},
		{"newline in unknown", withExtra("\"x\":\"a\nb\""), "", ctrlMsg, "a\n"},
		{"control char in key", withExtra("\"a\x1fb\":1"), "", ctrlMsg, "a\x1f"},
		// Duplicate keys, at every level, after unescaping and by field.
		{"duplicate known key", edit(`"mcc":"5411"`, `"mcc":"5411","mcc":"5412"`), "mcc", dupMsg, "5412"},
		{"duplicate key folded", edit(`"amount_minor":4599`, `"amount_minor":4599,"AMOUNT_MINOR":1`), "amount_minor", dupMsg, "AMOUNT"},
		{"duplicate unknown key", withExtra(`"x":1,"x":2`), "", dupMsg, `"x"`},
		{"duplicate unknown key escaped", withExtra(`"xy":1,"\u0078y":2`), "", dupMsg, `\u0078`},
		{"duplicate aggregates", withExtra(`"aggregates":{},"aggregates":{}`), "aggregates", dupMsg, "{}"},
		{"duplicate aggregates field", withExtra(`"aggregates":{"new_device":true,"new_device":false}`), "aggregates.new_device", dupMsg, "false"},
		{"duplicate aggregates unknown", withExtra(`"aggregates":{"z":1,"z":1}`), "aggregates", dupMsg, `"z"`},
		{"duplicate nested", withExtra(`"x":[{"a":1,"b":2,"a":3}]`), "", dupMsg, `"a"`},
		{"duplicate after many keys", withExtra(`"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k1":0`), "", dupMsg, `"k1"`},
		// Numbers outside their type.
		{"1e400 amount", edit(`"amount_minor":4599`, `"amount_minor":1e400`), "amount_minor", hugeMsg, "1e400"},
		{"1e400 unknown", withExtra(`"x":1e400`), "", hugeMsg, "1e400"},
		{"-1e400 nested", withExtra(`"x":[0,{"y":-1.5E+400}]`), "", hugeMsg, "1.5E"},
		{"400 digits", withExtra(`"x":1` + strings.Repeat("0", 400)), "", hugeMsg, "1000"},
		{"1e400 aggregate", withExtra(`"aggregates":{"card_txn_count_1h":1e400}`), "aggregates.card_txn_count_1h", hugeMsg, "1e400"},
		{"fraction amount", edit(`"amount_minor":4599`, `"amount_minor":1.5`), "amount_minor", intMsg, "1.5"},
		{"exponent amount", edit(`"amount_minor":4599`, `"amount_minor":1e30`), "amount_minor", intMsg, "1e30"},
		{"amount beyond int64", edit(`"amount_minor":4599`, `"amount_minor":9223372036854775808`), "amount_minor", int64Msg, "922337"},
		{"amount below int64", edit(`"amount_minor":4599`, `"amount_minor":-9223372036854775809`), "amount_minor", int64Msg, "922337"},
		{"age beyond int32", edit(`"account_age_days":812`, `"account_age_days":2147483648`), "account_age_days", int32Msg, "2147"},
		{"aggregate beyond int64", withExtra(`"aggregates":{"card_amount_24h_minor":41111111111111111111}`), "aggregates.card_amount_24h_minor", int64Msg, "4111"},
		// Nesting deeper than MaxNestingDepth (the event is level 1).
		{"too deep unknown", withExtra(`"x":` + nested(contracts.MaxNestingDepth)), "", deepMsg, "[["},
		{"too deep objects", withExtra(`"x":` + strings.Repeat(`{"a":`, contracts.MaxNestingDepth) + "1" + strings.Repeat("}", contracts.MaxNestingDepth)), "", deepMsg, `{"a"`},
		{"too deep in aggregates", withExtra(`"aggregates":{"z":` + nested(contracts.MaxNestingDepth-1) + `}`), "aggregates", deepMsg, "[["},
	}
}

// strictAccepted are payloads at the edge of the strict rules that are fine.
func strictAccepted() [][]byte {
	return [][]byte{
		withExtra(`"x":` + nested(contracts.MaxNestingDepth-1)),
		withExtra(`"aggregates":{"z":` + nested(contracts.MaxNestingDepth-2) + `}`),
		withExtra(`"x":"\ud83d\ude00","y":"😀","z":"` + "\ufffd" + `"`),
		withExtra(`"x":1.7976931348623157e308,"y":1e-400,"z":0.0e400,"w":-9e307`),
		withExtra(`"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"K1":0`),
		withExtra(`"x":{"a":1},"y":{"a":1},"z":[{"a":1},{"a":1}]`),
		withExtra(`"x":"\u0000\u001f\t"`),
	}
}

// TestStrictInputIsMalformed: every strict case is malformed with the same
// error on DecodeEvent (whose fast path must not take it) and on the
// encoding/json-only reference; the error gives a path and an offset but
// never the offending bytes; the transaction id is still decoded when
// encoding/json can parse the payload, so the dead letter can name it.
func TestStrictInputIsMalformed(t *testing.T) {
	v := testValidator()
	for _, c := range strictCases() {
		t.Run(c.name, func(t *testing.T) {
			require.NotContains(t, string(minimalEvent()), c.secret, "the secret must come from the edit")
			var ref contracts.TransactionEvent
			refErr := v.DecodeEventReference(c.data, &ref)
			var ev contracts.TransactionEvent
			fast, err := v.DecodeEventReportingFast(c.data, &ev)
			assert.False(t, fast, "the fast path decoded it")
			for name, e := range map[string]error{"DecodeEvent": err, "reference": refErr} {
				require.ErrorIs(t, e, contracts.ErrMalformed, "%s: %v", name, e)
				var ve *contracts.ValidationError
				require.ErrorAs(t, e, &ve)
				assert.Equal(t, contracts.KindMalformed, ve.Kind)
				assert.Equal(t, contracts.ReasonMalformed, ve.Reason())
				require.Len(t, ve.Problems, 1, "%s: %v", name, e)
				assert.Equal(t, c.path, ve.Problems[0].Path, "%s: %v", name, e)
				assert.True(t, strings.HasPrefix(ve.Problems[0].Message, c.msg), "%s: %v", name, e)
				msg := e.Error()
				assert.NotContains(t, msg, c.secret)
				assert.True(t, utf8.ValidString(msg), "%q", msg)
				assert.False(t, contracts.LooksLikePAN(msg), msg)
			}
			assert.Equal(t, err.Error(), refErr.Error())
			if json.Valid(c.data) { // else encoding/json decodes nothing
				assert.Equal(t, "txn_01HZX3K9Q7", ev.TransactionID)
			}
			checkDifferential(t, v, c.data)
		})
	}
}

func TestStrictEdgesAccepted(t *testing.T) {
	v := testValidator()
	for _, data := range strictAccepted() {
		var ev contracts.TransactionEvent
		require.NoError(t, v.DecodeEvent(data, &ev), "%q", data)
		require.NoError(t, v.DecodeEventReference(data, &ev), "%q", data)
		checkDifferential(t, v, data)
	}
}

// TestStrictFastPathAtTheLimits: payloads at the depth limit and with
// non-ASCII strings in unknown fields stay on the fast path.
func TestStrictFastPathAtTheLimits(t *testing.T) {
	v := testValidator()
	for _, data := range strictAccepted()[:2] {
		assert.True(t, checkDifferential(t, v, data), "fell back: %s", data)
	}
}

// TestMaxNestingDepthDocumented keeps the limit quoted in the schema and in
// docs/contracts.md equal to MaxNestingDepth.
func TestMaxNestingDepthDocumented(t *testing.T) {
	want := "nested at most " + strconv.Itoa(contracts.MaxNestingDepth) + " levels"
	raw, err := contracts.Schema(contracts.SchemaFileTransactionEventV1)
	require.NoError(t, err)
	var sch struct{ Description string }
	require.NoError(t, json.Unmarshal(raw, &sch))
	assert.Contains(t, sch.Description, want)
	doc, err := os.ReadFile(filepath.Join("..", "docs", "contracts.md"))
	require.NoError(t, err)
	assert.Contains(t, string(doc), want)
}
