package features_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/features"
)

func i32(v int32) *int32 { return &v }
func i64(v int64) *int64 { return &v }
func bp(v bool) *bool    { return &v }

// baseEvent is a complete event: every optional input present.
func baseEvent() contracts.TransactionEvent {
	return contracts.TransactionEvent{
		SchemaVersion:   contracts.TransactionEventSchemaV1,
		TransactionID:   "txn-1",
		EventTime:       time.Date(2026, 3, 4, 13, 30, 0, 0, time.UTC), // Wednesday
		CardToken:       "tok_1",
		AmountMinor:     12345,
		Currency:        "USD",
		MerchantID:      "m_1",
		MCC:             "7995",
		MerchantCountry: "NG",
		Channel:         contracts.ChannelECommerce,
		CardCountry:     "US",
		IPCountry:       "NG",
		DeviceID:        "dev_1",
		AccountAgeDays:  42,
		Aggregates: &contracts.Aggregates{
			CardTxnCount1h:     i32(3),
			CardAmount24hMinor: i64(100000),
			DeviceCardCount24h: i32(2),
			NewDevice:          bp(true),
		},
	}
}

func all(ev *contracts.TransactionEvent) map[string]float64 {
	var v [features.Count]float64
	features.ExtractAll(ev, &v)
	out := make(map[string]float64, features.Count)
	for i, n := range features.Names() {
		out[n] = v[i]
	}
	return out
}

func TestNamesCanonical(t *testing.T) {
	names := features.Names()
	require.Len(t, names, features.Count)
	assert.Equal(t, []string{
		"log_amount", "hour_of_day_utc", "day_of_week_utc", "channel", "card_not_present", "mcc_risk_group",
		"card_merchant_country_mismatch", "ip_card_country_mismatch", "ip_merchant_country_mismatch",
		"account_age_days", "has_device", "card_txn_count_1h", "log_card_amount_24h", "amount_share_of_24h",
		"device_card_count_24h", "new_device", "high_risk_merchant_country",
	}, names, "the canonical order is part of every model's contract: append only")
	names[0] = "changed"
	assert.Equal(t, features.LogAmount, features.Names()[0], "Names returns a copy")
}

func TestEveryFeatureCompleteEvent(t *testing.T) {
	ev := baseEvent()
	f := all(&ev)
	want := map[string]float64{
		features.LogAmount:             math.Log1p(123.45),
		features.HourOfDay:             13,
		features.DayOfWeek:             3, // Wednesday
		features.Channel:               1, // ecommerce
		features.CardNotPresent:        1,
		features.MCCRiskGroup:          features.MCCRiskHigh,
		features.CardMerchantMismatch:  1,
		features.IPCardMismatch:        1,
		features.IPMerchantMismatch:    0,
		features.AccountAgeDays:        42,
		features.HasDevice:             1,
		features.CardTxnCount1h:        3,
		features.LogCardAmount24h:      math.Log1p(1000),
		features.AmountShareOf24h:      123.45 / (123.45 + 1000),
		features.DeviceCardCount24h:    2,
		features.NewDevice:             1,
		features.HighRiskMerchantCntry: 1,
	}
	require.Len(t, want, features.Count)
	for n, w := range want {
		assert.InDelta(t, w, f[n], 1e-12, n)
	}
}

func TestDomesticCardPresent(t *testing.T) {
	ev := baseEvent()
	ev.Channel = contracts.ChannelCardPresent
	ev.MerchantCountry, ev.IPCountry, ev.CardCountry = "US", "US", "US"
	ev.MCC = "5411"
	ev.DeviceID = ""
	ev.Aggregates.NewDevice = bp(false)
	f := all(&ev)
	assert.Equal(t, 0.0, f[features.Channel])
	assert.Equal(t, 0.0, f[features.CardNotPresent])
	assert.Equal(t, float64(features.MCCRiskLow), f[features.MCCRiskGroup])
	assert.Equal(t, 0.0, f[features.CardMerchantMismatch])
	assert.Equal(t, 0.0, f[features.IPCardMismatch])
	assert.Equal(t, 0.0, f[features.IPMerchantMismatch])
	assert.Equal(t, 0.0, f[features.HasDevice])
	assert.Equal(t, 0.0, f[features.NewDevice], "false is 0, not missing")
	assert.Equal(t, 0.0, f[features.HighRiskMerchantCntry])
	assert.Equal(t, float64(features.MCCRiskMedium), float64(features.MCCRiskGroupOf("5732")))
}

func TestTimeIsUTCWhateverTheOffset(t *testing.T) {
	// 2026-03-01 is a Sunday. 23:30 at -05:00 is Monday 04:30 UTC;
	// 01:15 at +09:00 is Saturday 16:15 UTC.
	cases := []struct {
		in         string
		hour, wday float64
	}{
		{"2026-03-01T23:30:00-05:00", 4, 1},
		{"2026-03-01T01:15:00+09:00", 16, 6},
		{"2026-03-01T12:00:00Z", 12, 0},
		{"2026-03-01T00:00:00+00:30", 23, 6},
	}
	for _, c := range cases {
		tm, err := time.Parse(time.RFC3339, c.in)
		require.NoError(t, err)
		ev := baseEvent()
		ev.EventTime = tm
		f := all(&ev)
		assert.Equal(t, c.hour, f[features.HourOfDay], c.in)
		assert.Equal(t, c.wday, f[features.DayOfWeek], c.in)
	}
}

func TestMissingOptionalInputsAreNaN(t *testing.T) {
	type tc struct {
		name   string
		mutate func(*contracts.TransactionEvent)
		nan    []string
	}
	cases := []tc{
		{"no ip_country", func(e *contracts.TransactionEvent) { e.IPCountry = "" },
			[]string{features.IPCardMismatch, features.IPMerchantMismatch}},
		{"no aggregates", func(e *contracts.TransactionEvent) { e.Aggregates = nil },
			[]string{features.CardTxnCount1h, features.LogCardAmount24h, features.AmountShareOf24h, features.DeviceCardCount24h, features.NewDevice}},
		{"empty aggregates", func(e *contracts.TransactionEvent) { e.Aggregates = &contracts.Aggregates{} },
			[]string{features.CardTxnCount1h, features.LogCardAmount24h, features.AmountShareOf24h, features.DeviceCardCount24h, features.NewDevice}},
		{"no card_txn_count_1h", func(e *contracts.TransactionEvent) { e.Aggregates.CardTxnCount1h = nil },
			[]string{features.CardTxnCount1h}},
		{"no card_amount_24h", func(e *contracts.TransactionEvent) { e.Aggregates.CardAmount24hMinor = nil },
			[]string{features.LogCardAmount24h, features.AmountShareOf24h}},
		{"no device_card_count_24h", func(e *contracts.TransactionEvent) { e.Aggregates.DeviceCardCount24h = nil },
			[]string{features.DeviceCardCount24h}},
		{"no new_device", func(e *contracts.TransactionEvent) { e.Aggregates.NewDevice = nil },
			[]string{features.NewDevice}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := baseEvent()
			c.mutate(&ev)
			f := all(&ev)
			isNaN := map[string]bool{}
			for _, n := range c.nan {
				isNaN[n] = true
			}
			for n, v := range f {
				if isNaN[n] {
					assert.True(t, math.IsNaN(v), "%s = %v, want NaN (missing, never 0)", n, v)
				} else {
					assert.False(t, math.IsNaN(v), "%s is NaN but its input is present", n)
				}
			}
		})
	}
	// Present zero values stay 0, not NaN.
	ev := baseEvent()
	ev.Aggregates = &contracts.Aggregates{CardTxnCount1h: i32(0), CardAmount24hMinor: i64(0), DeviceCardCount24h: i32(0), NewDevice: bp(false)}
	f := all(&ev)
	assert.Equal(t, 0.0, f[features.CardTxnCount1h])
	assert.Equal(t, 0.0, f[features.LogCardAmount24h])
	assert.Equal(t, 1.0, f[features.AmountShareOf24h])
	assert.Equal(t, 0.0, f[features.DeviceCardCount24h])
	assert.Equal(t, 0.0, f[features.NewDevice])
}

func TestChannelCodes(t *testing.T) {
	want := map[contracts.Channel]struct{ code, cnp float64 }{
		contracts.ChannelCardPresent: {0, 0},
		contracts.ChannelECommerce:   {1, 1},
		contracts.ChannelATM:         {2, 0},
		contracts.ChannelMOTO:        {3, 1},
		contracts.ChannelContactless: {4, 0},
		contracts.ChannelRecurring:   {5, 1},
	}
	require.Len(t, want, len(contracts.Channels))
	for ch, w := range want {
		ev := baseEvent()
		ev.Channel = ch
		f := all(&ev)
		assert.Equal(t, w.code, f[features.Channel], string(ch))
		assert.Equal(t, w.cnp, f[features.CardNotPresent], string(ch))
	}
	ev := baseEvent()
	ev.Channel = "telepathy"
	assert.True(t, math.IsNaN(all(&ev)[features.Channel]), "unknown channel is missing")
}

func TestCurrencyExponents(t *testing.T) {
	cases := []struct {
		cur   string
		minor int64
		major float64
	}{
		{"USD", 12345, 123.45},
		{"EUR", 100, 1},
		{"JPY", 12345, 12345},
		{"KRW", 5000, 5000},
		{"KWD", 12345, 12.345},
		{"BHD", 1000, 1},
		{"CLF", 10000, 1},
	}
	for _, c := range cases {
		assert.InDelta(t, c.major, features.MajorUnits(c.minor, c.cur), 1e-12, c.cur)
		ev := baseEvent()
		ev.Currency, ev.AmountMinor = c.cur, c.minor
		ev.Aggregates.CardAmount24hMinor = i64(c.minor * 3)
		f := all(&ev)
		assert.InDelta(t, math.Log1p(c.major), f[features.LogAmount], 1e-12, c.cur)
		assert.InDelta(t, math.Log1p(3*c.major), f[features.LogCardAmount24h], 1e-12, c.cur)
		assert.InDelta(t, 0.25, f[features.AmountShareOf24h], 1e-12, c.cur)
	}
	// The same number of minor units is a very different amount.
	assert.Greater(t, features.MajorUnits(1000, "JPY"), features.MajorUnits(1000, "USD"))
	assert.Greater(t, features.MajorUnits(1000, "USD"), features.MajorUnits(1000, "KWD"))
}

func TestNewExtractorOrder(t *testing.T) {
	want := []string{features.NewDevice, features.LogAmount, features.Channel, features.HourOfDay}
	x, err := features.NewExtractor(want)
	require.NoError(t, err)
	assert.Equal(t, want, x.Names())
	assert.Equal(t, len(want), x.Len())
	ev := baseEvent()
	ref := all(&ev)
	out := make([]float64, x.Len())
	require.NoError(t, x.Extract(&ev, out))
	for i, n := range want {
		assert.Equal(t, ref[n], out[i], n)
	}

	// The canonical order reproduces ExtractAll exactly.
	xa, err := features.NewExtractor(features.Names())
	require.NoError(t, err)
	var canon [features.Count]float64
	features.ExtractAll(&ev, &canon)
	out = make([]float64, xa.Len())
	require.NoError(t, xa.Extract(&ev, out))
	assert.Equal(t, canon[:], out)
}

func TestNewExtractorRefusesUnknown(t *testing.T) {
	_, err := features.NewExtractor([]string{features.LogAmount, "shoe_size", features.Channel, "moon_phase"})
	require.Error(t, err)
	assert.ErrorIs(t, err, features.ErrUnknownFeature)
	assert.Contains(t, err.Error(), `"shoe_size"`)
	assert.Contains(t, err.Error(), `"moon_phase"`)

	_, err = features.NewExtractor(nil)
	assert.ErrorIs(t, err, features.ErrUnknownFeature)
}

func TestExtractWrongLength(t *testing.T) {
	x, err := features.NewExtractor(features.Names())
	require.NoError(t, err)
	ev := baseEvent()
	for _, n := range []int{0, features.Count - 1, features.Count + 1} {
		err := x.Extract(&ev, make([]float64, n))
		require.Error(t, err, "len %d", n)
		assert.True(t, errors.Is(err, features.ErrVectorLength), "len %d: %v", n, err)
	}
}

func TestExtractDoesNotAllocate(t *testing.T) {
	x, err := features.NewExtractor(features.Names())
	require.NoError(t, err)
	ev := baseEvent()
	out := make([]float64, x.Len())
	allocs := testing.AllocsPerRun(1000, func() {
		if err := x.Extract(&ev, out); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "Extract allocates")
	var arr [features.Count]float64
	allocs = testing.AllocsPerRun(1000, func() { features.ExtractAll(&ev, &arr) })
	assert.Zero(t, allocs, "ExtractAll allocates")
}

func validEvents(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob("../../contracts/testdata/events/valid/*.json")
	require.NoError(tb, err)
	require.NotEmpty(tb, paths)
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(tb, err)
		out[filepath.Base(p)] = b
	}
	return out
}

// TestValidTestdataEvents extracts every contract example: hour and day come
// out in UTC and nothing but optional inputs is NaN.
func TestValidTestdataEvents(t *testing.T) {
	v := contracts.NewValidator()
	v.Now = func() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }
	for name, raw := range validEvents(t) {
		var ev contracts.TransactionEvent
		require.NoError(t, v.DecodeEvent(raw, &ev), name)
		f := all(&ev)
		u := ev.EventTime.UTC()
		assert.Equal(t, float64(u.Hour()), f[features.HourOfDay], name)
		assert.Equal(t, float64(u.Weekday()), f[features.DayOfWeek], name)
		for _, n := range []string{features.LogAmount, features.HourOfDay, features.DayOfWeek, features.Channel,
			features.CardNotPresent, features.MCCRiskGroup, features.CardMerchantMismatch, features.AccountAgeDays,
			features.HasDevice, features.HighRiskMerchantCntry} {
			assert.False(t, math.IsNaN(f[n]), "%s: %s is NaN", name, n)
		}
	}
	// contactless_offset_time.json is 14:03 at +02:00: 12 UTC.
	var ev contracts.TransactionEvent
	require.NoError(t, v.DecodeEvent(validEvents(t)["contactless_offset_time.json"], &ev))
	assert.Equal(t, 12.0, all(&ev)[features.HourOfDay])
	assert.True(t, math.IsNaN(all(&ev)[features.IPCardMismatch]), "no ip_country")
}

func FuzzExtract(f *testing.F) {
	for _, raw := range validEvents(f) {
		f.Add(raw)
	}
	v := contracts.NewValidator()
	x, err := features.NewExtractor(features.Names())
	if err != nil {
		f.Fatal(err)
	}
	out := make([]float64, x.Len())
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev contracts.TransactionEvent
		if err := v.DecodeEvent(data, &ev); err != nil {
			return
		}
		if err := x.Extract(&ev, out); err != nil {
			t.Fatalf("extract a valid event: %v", err)
		}
		for i, val := range out {
			if math.IsInf(val, 0) {
				t.Fatalf("feature %s is %v", x.Names()[i], val)
			}
		}
	})
}

func BenchmarkFeatures(b *testing.B) {
	x, err := features.NewExtractor(features.Names())
	require.NoError(b, err)
	ev := baseEvent()
	out := make([]float64, x.Len())
	b.ReportAllocs()
	for b.Loop() {
		if err := x.Extract(&ev, out); err != nil {
			b.Fatal(err)
		}
	}
}
