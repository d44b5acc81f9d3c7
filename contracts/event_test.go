package contracts_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeEventValidExamples(t *testing.T) {
	v := testValidator()
	channels := map[contracts.Channel]bool{}
	for _, ex := range readExamples(t, "valid") {
		t.Run(ex.name, func(t *testing.T) {
			var ev contracts.TransactionEvent
			require.NoError(t, v.DecodeEvent(ex.data, &ev))
			require.NoError(t, v.ValidateEvent(&ev))
			assert.Equal(t, contracts.TransactionEventSchemaV1, ev.SchemaVersion)
			channels[ev.Channel] = true

			// Decoding agrees with plain encoding/json on valid input.
			var want contracts.TransactionEvent
			require.NoError(t, json.Unmarshal(ex.data, &want))
			assert.Equal(t, want, ev)
		})
	}
	for _, c := range contracts.Channels {
		assert.True(t, channels[c], "no valid example uses channel %s", c)
	}
}

func TestDecodeEventInvalidExamples(t *testing.T) {
	v := testValidator()
	panValue := regexp.MustCompile(`[0-9][0-9 -]{11,}[0-9]`)
	for _, ex := range readExamples(t, "invalid") {
		t.Run(ex.name, func(t *testing.T) {
			want := readExpectation(t, ex.name)
			var ev contracts.TransactionEvent
			err := v.DecodeEvent(ex.data, &ev)
			require.Error(t, err)
			var ve *contracts.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, want.Kind, ve.Kind)
			assert.Equal(t, sorted(want.Paths), problemPaths(ve), "error: %v", err)
			assert.Equal(t, string(want.Kind), ve.Reason())

			sentinel := map[contracts.Kind]error{
				contracts.KindMalformed: contracts.ErrMalformed,
				contracts.KindInvalid:   contracts.ErrInvalid,
				contracts.KindTooLarge:  contracts.ErrTooLarge,
			}
			for k, s := range sentinel {
				assert.Equal(t, k == want.Kind, errors.Is(err, s), "errors.Is(err, %v)", s)
			}

			// Every problem is listed, and no card data leaks into the text.
			msg := err.Error()
			for _, p := range ve.Problems {
				assert.Contains(t, msg, p.String())
			}
			assert.False(t, contracts.LooksLikePAN(msg), "error text looks like it holds a PAN: %s", msg)
			for _, m := range panValue.FindAllString(string(ex.data), -1) {
				assert.NotContains(t, msg, m)
			}
		})
	}
}

func TestPANProblemMessage(t *testing.T) {
	v := testValidator()
	data := []byte(strings.Replace(string(minimalEvent()), `"tok_c8f1e2a94b7d"`, `"4111 1111 1111 1111"`, 1))
	var ev contracts.TransactionEvent
	err := v.DecodeEvent(data, &ev)
	var ve *contracts.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, []contracts.Problem{{Path: "card_token", Message: "looks like a card number (PAN); send a token"}}, ve.Problems)
	assert.NotContains(t, err.Error(), "4111")
	assert.Equal(t, "invalid: card_token: looks like a card number (PAN); send a token", err.Error())
}

func minimalEvent() []byte {
	return []byte(`{"schema_version":"transaction_event.v1","transaction_id":"txn_01HZX3K9Q7",` +
		`"event_time":"2025-06-01T11:58:03Z","card_token":"tok_c8f1e2a94b7d","amount_minor":4599,` +
		`"currency":"EUR","merchant_id":"m_100233","mcc":"5411","merchant_country":"DE",` +
		`"channel":"card_present","card_country":"DE","account_age_days":812}`)
}

func TestErrorListsEveryProblem(t *testing.T) {
	v := testValidator()
	var ev contracts.TransactionEvent
	err := v.DecodeEvent([]byte(`{"schema_version":"transaction_event.v1","amount_minor":-1,"mcc":"12","account_age_days":1}`), &ev)
	require.Error(t, err)
	assert.Equal(t, "invalid: transaction_id: required; event_time: required; card_token: required; "+
		"amount_minor: must be positive; currency: required; merchant_id: required; mcc: must be exactly 4 digits; "+
		"merchant_country: required; channel: required; card_country: required", err.Error())
}

func TestDecodeEventTooLarge(t *testing.T) {
	v := testValidator()
	v.MaxBytes = 100
	data := minimalEvent()
	require.Greater(t, len(data), 100)
	var ev contracts.TransactionEvent
	err := v.DecodeEvent(data, &ev)
	require.ErrorIs(t, err, contracts.ErrTooLarge)
	var ve *contracts.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, contracts.KindTooLarge, ve.Kind)

	// The default limit is 64 KiB; garbage above it is not even parsed.
	big := make([]byte, contracts.DefaultMaxEventBytes+1)
	err = contracts.NewValidator().DecodeEvent(big, &ev)
	require.ErrorIs(t, err, contracts.ErrTooLarge)
	// Exactly at the limit is parsed (and here malformed).
	err = contracts.NewValidator().DecodeEvent(big[:contracts.DefaultMaxEventBytes], &ev)
	require.ErrorIs(t, err, contracts.ErrMalformed)
}

func TestDecodeEventFutureSkew(t *testing.T) {
	v := testValidator()
	at := func(ts string) error {
		data := strings.Replace(string(minimalEvent()), "2025-06-01T11:58:03Z", ts, 1)
		var ev contracts.TransactionEvent
		return v.DecodeEvent([]byte(data), &ev)
	}
	require.NoError(t, at("2025-06-01T12:05:00Z"))
	require.ErrorIs(t, at("2025-06-01T12:05:01Z"), contracts.ErrInvalid)
	v.MaxFutureSkew = time.Hour
	require.NoError(t, at("2025-06-01T12:59:00Z"))
	require.NoError(t, at("2000-01-01T00:00:00Z"))
	require.ErrorIs(t, at("1999-12-31T23:59:59.999Z"), contracts.ErrInvalid)
}

func TestDecodeEventResetsDestination(t *testing.T) {
	v := testValidator()
	var ev contracts.TransactionEvent
	full := readExamples(t, "valid")
	for _, ex := range full {
		if ex.name == "ecommerce_full" {
			require.NoError(t, v.DecodeEvent(ex.data, &ev))
		}
	}
	require.NotNil(t, ev.Aggregates)
	require.NoError(t, v.DecodeEvent(minimalEvent(), &ev))
	assert.Nil(t, ev.Aggregates)
	assert.Empty(t, ev.IPCountry)
	assert.Empty(t, ev.DeviceID)
}

func TestDecodeEventAggregatesNullMeansAbsent(t *testing.T) {
	v := testValidator()
	data := strings.Replace(string(minimalEvent()), `}`, `,"aggregates":{"card_txn_count_1h":null,"new_device":false,"device_card_count_24h":0}}`, 1)
	var ev contracts.TransactionEvent
	require.NoError(t, v.DecodeEvent([]byte(data), &ev))
	require.NotNil(t, ev.Aggregates)
	assert.Nil(t, ev.Aggregates.CardTxnCount1h)
	assert.Nil(t, ev.Aggregates.CardAmount24hMinor)
	require.NotNil(t, ev.Aggregates.NewDevice)
	assert.False(t, *ev.Aggregates.NewDevice)
	require.NotNil(t, ev.Aggregates.DeviceCardCount24h)
	assert.Zero(t, *ev.Aggregates.DeviceCardCount24h)
}

func TestDecodeEventTypeProblems(t *testing.T) {
	v := testValidator()
	cases := []struct {
		name, replace, with string
		kind                contracts.Kind
		paths               []string
	}{
		{"fraction amount", `"amount_minor":4599`, `"amount_minor":45.99`, contracts.KindMalformed, []string{"amount_minor"}},
		{"exponent amount", `"amount_minor":4599`, `"amount_minor":4e3`, contracts.KindMalformed, []string{"amount_minor"}},
		{"huge negative amount", `"amount_minor":4599`, `"amount_minor":-99999999999999999999`, contracts.KindMalformed, []string{"amount_minor"}},
		{"age overflows int32", `"account_age_days":812`, `"account_age_days":4294967296`, contracts.KindMalformed, []string{"account_age_days"}},
		{"time wrong type and PAN", `"event_time":"2025-06-01T11:58:03Z","card_token":"tok_c8f1e2a94b7d"`, `"event_time":true,"card_token":"4111111111111111"`, contracts.KindMalformed, []string{"event_time", "card_token"}},
		{"case-insensitive key wrong type", `"amount_minor":4599`, `"amount_minor":4599,"AMOUNT_MINOR":"1"`, contracts.KindMalformed, []string{"amount_minor"}},
		{"schema_version wrong type", `"schema_version":"transaction_event.v1"`, `"schema_version":1`, contracts.KindMalformed, []string{"schema_version"}},
		{"aggregate overflows int32", `"account_age_days":812`, `"account_age_days":812,"aggregates":{"card_txn_count_1h":2147483648}`, contracts.KindMalformed, []string{"aggregates.card_txn_count_1h"}},
		{"aggregate string", `"account_age_days":812`, `"account_age_days":812,"aggregates":{"device_card_count_24h":"2","new_device":1}`, contracts.KindMalformed, []string{"aggregates.device_card_count_24h", "aggregates.new_device"}},
		{"unparsable time", `"event_time":"2025-06-01T11:58:03Z"`, `"event_time":"2025-02-30T11:58:03Z"`, contracts.KindInvalid, []string{"event_time"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := strings.Replace(string(minimalEvent()), c.replace, c.with, 1)
			require.NotEqual(t, string(minimalEvent()), data)
			var ev contracts.TransactionEvent
			err := v.DecodeEvent([]byte(data), &ev)
			var ve *contracts.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, c.kind, ve.Kind, "%v", err)
			assert.Equal(t, sorted(c.paths), problemPaths(ve), "%v", err)
		})
	}
}

func TestDecodeEventNotObject(t *testing.T) {
	v := testValidator()
	for _, in := range []string{"", " ", "null", "true", "42", `"x"`, "[]", "nul", "{", "\xff", "NaN"} {
		var ev contracts.TransactionEvent
		err := v.DecodeEvent([]byte(in), &ev)
		require.ErrorIs(t, err, contracts.ErrMalformed, "input %q", in)
	}
	require.Error(t, v.DecodeEvent(minimalEvent(), nil))
}

func TestValidateEventBuiltInGo(t *testing.T) {
	v := testValidator()
	n := int32(2)
	ev := contracts.TransactionEvent{
		SchemaVersion: contracts.TransactionEventSchemaV1, TransactionID: "t1", EventTime: testNow.Add(-time.Minute),
		CardToken: "tok", AmountMinor: 100, Currency: "GBP", MerchantID: "m1", MCC: "5999",
		MerchantCountry: "GB", Channel: contracts.ChannelECommerce, CardCountry: "IE",
		Aggregates: &contracts.Aggregates{CardTxnCount1h: &n},
	}
	require.NoError(t, v.ValidateEvent(&ev))

	bad := ev
	bad.AmountMinor = contracts.MaxAmountMinor + 1
	bad.AccountAgeDays = -1
	bad.IPCountry = "EU"
	bad.Channel = "pigeon"
	neg := int32(-3)
	bad.Aggregates = &contracts.Aggregates{DeviceCardCount24h: &neg}
	err := v.ValidateEvent(&bad)
	var ve *contracts.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, contracts.KindInvalid, ve.Kind)
	assert.Equal(t, sorted([]string{"amount_minor", "account_age_days", "ip_country", "channel", "aggregates.device_card_count_24h"}), problemPaths(ve))
	require.Error(t, v.ValidateEvent(nil))
}

func TestZeroAndNilValidatorUseDefaults(t *testing.T) {
	var ev contracts.TransactionEvent
	var zero contracts.Validator
	require.NoError(t, zero.DecodeEvent(minimalEvent(), &ev))
	var nilV *contracts.Validator
	require.NoError(t, nilV.DecodeEvent(minimalEvent(), &ev))
	require.ErrorIs(t, nilV.DecodeEvent(make([]byte, contracts.DefaultMaxEventBytes+1), &ev), contracts.ErrTooLarge)
}

func TestDecodeEventSteadyStateAllocations(t *testing.T) {
	// Validation itself must not allocate on valid input: only encoding/json
	// does (strings and aggregate pointers).
	v := testValidator()
	var ev contracts.TransactionEvent
	data := minimalEvent()
	withValidation := testing.AllocsPerRun(200, func() { _ = v.DecodeEvent(data, &ev) })
	plain := testing.AllocsPerRun(200, func() { ev = contracts.TransactionEvent{}; _ = json.Unmarshal(data, &ev) })
	assert.LessOrEqual(t, withValidation, plain)
}
