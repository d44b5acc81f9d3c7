package contracts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syntheticEvents returns n synthetic events marshalled by encoding/json,
// fraud over-represented so that every scenario and aggregate shape appears.
func syntheticEvents(tb testing.TB, n int) [][]byte {
	tb.Helper()
	g := synthetic.New(synthetic.Config{Seed: 20261127, FraudRate: 0.3})
	out := make([][]byte, 0, n)
	for range n {
		ev, _ := g.Next()
		b, err := json.Marshal(&ev)
		require.NoError(tb, err)
		out = append(out, b)
	}
	return out
}

// edit replaces old by new in minimalEvent (which must contain old).
func edit(old, new string) []byte {
	s := string(minimalEvent())
	if !strings.Contains(s, old) {
		panic("edit: " + old + " not in minimalEvent")
	}
	return []byte(strings.Replace(s, old, new, 1))
}

// withExtra adds members before minimalEvent's closing brace.
func withExtra(members string) []byte {
	s := string(minimalEvent())
	return []byte(s[:len(s)-1] + "," + members + "}")
}

// canonicalVariants are payloads the fast path must decode itself.
func canonicalVariants() [][]byte {
	indented := func(b []byte) []byte {
		var x bytes.Buffer
		if err := json.Indent(&x, b, " \r\n", "\t"); err != nil {
			panic(err)
		}
		return append(append([]byte(" \n\t"), x.Bytes()...), "\r\n "...)
	}
	return [][]byte{
		minimalEvent(),
		indented(withExtra(`"aggregates":{"card_txn_count_1h":3,"new_device":true}`)),
		withExtra(`"ip_country":null,"device_id":null,"aggregates":null`),
		withExtra(`"ip_country":"","device_id":"","aggregates":{}`),
		withExtra(`"aggregates":{"card_txn_count_1h":null,"card_amount_24h_minor":-9223372036854775808,"device_card_count_24h":2147483647,"new_device":false,"x":[{}]}`),
		withExtra(`"extra":{"a":[1,-2.5e+3,{"b":null}],"c":"\u00e9\"\\\/\b\f\n\r\t","d":[true,false,[],{}]},"":0,"x":"` + "\x7f" + `","y":9e307,"z":-9e-999`),
		withExtra(`"device_id":"dév ☃ 😀 ` + "\ufffd" + `"`),
		edit(`"account_age_days":812`, `"account_age_days":-2147483648`),
		edit(`"amount_minor":4599`, `"amount_minor":-0`),
		edit(`"amount_minor":4599`, `"amount_minor":9223372036854775807`),
		edit(`"2025-06-01T11:58:03Z"`, `"2025-06-01T13:58:03.123456789+02:00"`),
		edit(`"2025-06-01T11:58:03Z"`, `null`),
		edit(`"EUR"`, `"eur"`),
		edit(`"channel":"card_present"`, `"channel":"pigeon"`),
		edit(`"schema_version":"transaction_event.v1"`, `"schema_version":"transaction_event.v2"`),
		[]byte(`{}`),
		[]byte(` { } `),
	}
}

// fallbackVariants are payloads outside the fast path's subset.
func fallbackVariants() [][]byte {
	return [][]byte{
		edit(`"amount_minor":4599`, `"amount_minor":4599,"AMOUNT_MINOR":"1"`),
		edit(`"amount_minor":4599`, `"Amount_Minor":4599`),
		edit(`"schema_version"`, `"ſchema_version"`),
		edit(`"mcc"`, `"\u006dcc"`),
		edit(`"mcc":"5411"`, `"mcc":"5411","mcc":"5412"`),
		edit(`"txn_01HZX3K9Q7"`, `"txn_01HZX3K9Q7\u0041"`),
		edit(`"m_100233"`, `"m_`+"\xff"+`100233"`),
		edit(`"m_100233"`, `"m_`+"\xed\xa0\x80"+`"`),
		edit(`"m_100233"`, `"m_\ud800"`),
		withExtra(`"ü":1`),
		withExtra(`"dev` + "\xff" + `":1`),
		edit(`"amount_minor":4599`, `"amount_minor":45.99`),
		edit(`"amount_minor":4599`, `"amount_minor":4e3`),
		edit(`"amount_minor":4599`, `"amount_minor":9223372036854775808`),
		edit(`"amount_minor":4599`, `"amount_minor":04599`),
		edit(`"amount_minor":4599`, `"amount_minor":"4599"`),
		edit(`"account_age_days":812`, `"account_age_days":2147483648`),
		edit(`"2025-06-01T11:58:03Z"`, `"2025-02-30T11:58:03Z"`),
		edit(`"2025-06-01T11:58:03Z"`, `"2025-06-01T11:58:03\u005a"`),
		edit(`"2025-06-01T11:58:03Z"`, `12`),
		withExtra(`"aggregates":{"new_device":1}`),
		withExtra(`"aggregates":{"new_device":true,"new_device":false}`),
		withExtra(`"aggregates":{"NEW_DEVICE":true}`),
		withExtra(`"aggregates":[]`),
		withExtra(`"aggregates":{"card_txn_count_1h":1},"aggregates":{"new_device":true}`),
		withExtra(`"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100)),
		withExtra(`"x":tru`),
		withExtra(`"x":"\x01"`),
		withExtra(`"x":"\q"`),
		append(minimalEvent(), " x"...),
		append(minimalEvent(), '}'),
		[]byte(`{"a":1,}`),
		[]byte(`{"a" 1}`),
	}
}

// fullEvent is a copy of testdata/events/valid/ecommerce_full.json: every
// field and every aggregate (TestFullEventMatchesTestdata keeps it in sync).
func fullEvent() []byte {
	return []byte(`{"schema_version":"transaction_event.v1","transaction_id":"shop-eu:2025.06.01:000017",` +
		`"event_time":"2025-06-01T11:59:59.123456789Z","card_token":"tok_c8f1e2a94b7d","amount_minor":129900,` +
		`"currency":"USD","merchant_id":"m_100233","mcc":"5732","merchant_country":"US","channel":"ecommerce",` +
		`"card_country":"GB","account_age_days":812,"ip_country":"NG","device_id":"dev_7f3a9c","aggregates":` +
		`{"card_txn_count_1h":3,"card_amount_24h_minor":250000,"device_card_count_24h":2,"new_device":true}}`)
}

func TestFullEventMatchesTestdata(t *testing.T) {
	for _, ex := range readExamples(t, "valid") {
		if ex.name == "ecommerce_full" {
			var want any
			require.NoError(t, json.Unmarshal(ex.data, &want))
			var got any
			require.NoError(t, json.Unmarshal(fullEvent(), &got))
			assert.Equal(t, want, got)
		}
	}
}

// destinations returns events to decode into: fresh, holding a previous
// event's aggregates (the worker's reuse), and holding aggregates whose
// pointers alias each other or are partly nil.
func destinations(t *testing.T, v *contracts.Validator) []*contracts.TransactionEvent {
	full := new(contracts.TransactionEvent)
	require.NoError(t, v.DecodeEvent(fullEvent(), full))
	require.NotNil(t, full.Aggregates)
	n, b := int32(-7), true
	aliased := &contracts.TransactionEvent{TransactionID: "old", Aggregates: &contracts.Aggregates{
		CardTxnCount1h: &n, DeviceCardCount24h: &n, NewDevice: &b,
	}}
	return []*contracts.TransactionEvent{new(contracts.TransactionEvent), full, aliased}
}

// checkDifferential decodes data with DecodeEvent into each destination
// and with the encoding/json-only reference into a fresh event: results
// must be identical. It returns whether the fast path decoded data.
func checkDifferential(t *testing.T, v *contracts.Validator, data []byte) (fast bool) {
	t.Helper()
	var want contracts.TransactionEvent
	wantErr := v.DecodeEventReference(data, &want)
	for i, ev := range destinations(t, v) {
		buf := bytes.Clone(data)
		f, err := v.DecodeEventReportingFast(buf, ev)
		sameError(t, wantErr, err)
		// Strings must not alias the payload, which the caller may reuse.
		for j := range buf {
			buf[j] = 'X'
		}
		if !reflect.DeepEqual(&want, ev) {
			t.Fatalf("destination %d: fast=%v decoded %q\n got %#v\nwant %#v", i, f, data, ev, &want)
		}
		if i > 0 && f != fast {
			t.Fatalf("fast path taken depends on the destination")
		}
		fast = f
		// Decoding again into the same event reuses its own storage.
		f2, err := v.DecodeEventReportingFast(data, ev)
		sameError(t, wantErr, err)
		if f2 != f || !reflect.DeepEqual(&want, ev) {
			t.Fatalf("destination %d: second decode of %q differs:\n got %#v\nwant %#v", i, data, ev, &want)
		}
	}
	return fast
}

func sameError(t *testing.T, want, got error) {
	t.Helper()
	if want == nil || got == nil {
		if want != got {
			t.Fatalf("error: got %v, want %v", got, want)
		}
		return
	}
	var wv, gv *contracts.ValidationError
	if !errors.As(want, &wv) || !errors.As(got, &gv) {
		t.Fatalf("error types: got %T %v, want %T %v", got, got, want, want)
	}
	if wv.Kind != gv.Kind || !reflect.DeepEqual(wv.Problems, gv.Problems) || want.Error() != got.Error() {
		t.Fatalf("error: got %v, want %v", got, want)
	}
}

// FuzzDecodeEventDifferential checks that DecodeEvent, with its hand-written
// fast path, returns exactly what the encoding/json-only reference returns:
// the same event (reflect.DeepEqual, also after an error, since callers log
// the transaction id of rejected events) and an error of the same Kind with
// the same Problems. The corpus holds every class of strict-input violation
// (invalid UTF-8, surrogate escapes, control characters, duplicate keys,
// numbers outside their type, nesting too deep), so the fast path cannot
// accept what the reference calls malformed.
func FuzzDecodeEventDifferential(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		for _, ex := range readExamples(f, dir) {
			f.Add(ex.data)
		}
	}
	for _, b := range syntheticEvents(f, 64) {
		f.Add(b)
	}
	for _, b := range canonicalVariants() {
		f.Add(b)
	}
	for _, b := range fallbackVariants() {
		f.Add(b)
	}
	// Every class of strict rule: both decoders must call it malformed.
	for _, c := range strictCases() {
		f.Add(c.data)
	}
	for _, b := range strictAccepted() {
		f.Add(b)
	}
	v := testValidator()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDifferential(t, v, data)
	})
}

// TestDecodeEventFastPath pins which payloads the fast path decodes, so the
// optimisation cannot silently regress into always falling back, and checks
// every one of them against the reference.
func TestDecodeEventFastPath(t *testing.T) {
	v := testValidator()
	for _, ex := range readExamples(t, "valid") {
		assert.True(t, checkDifferential(t, v, ex.data), "valid example %s fell back to encoding/json", ex.name)
	}
	for i, b := range syntheticEvents(t, 2000) {
		require.True(t, checkDifferential(t, v, b), "synthetic event %d fell back: %s", i, b)
	}
	for _, b := range canonicalVariants() {
		assert.True(t, checkDifferential(t, v, b), "fell back: %s", b)
	}
	for _, b := range fallbackVariants() {
		assert.False(t, checkDifferential(t, v, b), "fast path took: %q", b)
	}
	for _, ex := range readExamples(t, "invalid") {
		checkDifferential(t, v, ex.data)
	}
}

// TestDecodeEventFastPathAllocations: one allocation per typical event (all
// its free-form strings share it) once the destination's aggregates exist;
// the first decode into a fresh event adds one for the aggregates.
func TestDecodeEventFastPathAllocations(t *testing.T) {
	v := testValidator()
	var data []byte
	for _, ex := range readExamples(t, "valid") {
		if ex.name == "ecommerce_full" {
			data = ex.data
		}
	}
	var ev contracts.TransactionEvent
	reused := testing.AllocsPerRun(200, func() {
		if err := v.DecodeEvent(data, &ev); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, reused, 1.0)
	fresh := testing.AllocsPerRun(200, func() {
		ev = contracts.TransactionEvent{}
		_ = v.DecodeEvent(data, &ev)
	})
	assert.LessOrEqual(t, fresh, 2.0)
}
