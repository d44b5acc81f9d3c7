// Package features turns a contracts.TransactionEvent into the named numeric
// features that fraudscore's models read.
//
// The same code produces training rows and serving vectors, so there is no
// training/serving skew. Extraction is deterministic (times are read in UTC)
// and optional inputs that are absent become NaN, never 0, exactly as in
// training: tree models route NaN to the branch learned for "missing".
package features

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fraudscore/fraudscore/contracts"
)

// Names of every feature the extractor knows, in their canonical order.
const (
	LogAmount             = "log_amount"
	HourOfDay             = "hour_of_day_utc"
	DayOfWeek             = "day_of_week_utc"
	Channel               = "channel"
	CardNotPresent        = "card_not_present"
	MCCRiskGroup          = "mcc_risk_group"
	CardMerchantMismatch  = "card_merchant_country_mismatch"
	IPCardMismatch        = "ip_card_country_mismatch"
	IPMerchantMismatch    = "ip_merchant_country_mismatch"
	AccountAgeDays        = "account_age_days"
	HasDevice             = "has_device"
	CardTxnCount1h        = "card_txn_count_1h"
	LogCardAmount24h      = "log_card_amount_24h"
	AmountShareOf24h      = "amount_share_of_24h"
	DeviceCardCount24h    = "device_card_count_24h"
	NewDevice             = "new_device"
	HighRiskMerchantCntry = "high_risk_merchant_country"
)

// Count is the number of known features.
const Count = 17

// names is indexed like the vector computed by compute.
var names = [Count]string{
	LogAmount, HourOfDay, DayOfWeek, Channel, CardNotPresent, MCCRiskGroup,
	CardMerchantMismatch, IPCardMismatch, IPMerchantMismatch, AccountAgeDays, HasDevice,
	CardTxnCount1h, LogCardAmount24h, AmountShareOf24h, DeviceCardCount24h, NewDevice,
	HighRiskMerchantCntry,
}

// Names returns the names of every known feature in canonical order.
func Names() []string { return append([]string(nil), names[:]...) }

// ErrUnknownFeature is returned (wrapped) when a model needs a feature this
// extractor cannot compute.
var ErrUnknownFeature = errors.New("unknown feature")

// ErrVectorLength is returned (wrapped) when the output vector has the wrong
// length.
var ErrVectorLength = errors.New("feature vector length mismatch")

// Extractor fills feature vectors in the order a model declares. It is
// immutable and safe for concurrent use.
type Extractor struct {
	index []int // index[i] is the canonical position of the model's i-th feature
	names []string
}

// NewExtractor returns an extractor that fills vectors in the order of want.
// A name it does not know is an error naming it (wrapping ErrUnknownFeature),
// so a model that needs an unknown feature is refused at load.
func NewExtractor(want []string) (*Extractor, error) {
	if len(want) == 0 {
		return nil, fmt.Errorf("features: model declares no features: %w", ErrUnknownFeature)
	}
	x := &Extractor{index: make([]int, len(want)), names: append([]string(nil), want...)}
	var unknown []string
	for i, n := range want {
		pos := -1
		for j, known := range names {
			if known == n {
				pos = j
				break
			}
		}
		if pos < 0 {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
		x.index[i] = pos
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("features: model needs %s: %w", strings.Join(unknown, ", "), ErrUnknownFeature)
	}
	return x, nil
}

// Names returns the feature names in the order Extract fills them.
func (x *Extractor) Names() []string { return append([]string(nil), x.names...) }

// Len is the length of the vectors Extract fills.
func (x *Extractor) Len() int { return len(x.index) }

// Extract fills out (of length Len) with the features of ev. It does not
// allocate.
func (x *Extractor) Extract(ev *contracts.TransactionEvent, out []float64) error {
	if len(out) != len(x.index) {
		return fmt.Errorf("features: vector has %d slots, extractor fills %d: %w", len(out), len(x.index), ErrVectorLength)
	}
	var all [Count]float64
	compute(ev, &all)
	for i, pos := range x.index {
		out[i] = all[pos]
	}
	return nil
}

// ExtractAll fills out with every known feature in canonical order.
func ExtractAll(ev *contracts.TransactionEvent, out *[Count]float64) { compute(ev, out) }

func compute(ev *contracts.TransactionEvent, f *[Count]float64) {
	nan := math.NaN()
	amount := MajorUnits(ev.AmountMinor, ev.Currency)
	t := ev.EventTime.UTC()
	f[0] = math.Log1p(amount)
	f[1] = float64(t.Hour())
	f[2] = float64(t.Weekday())
	f[3] = channelCode(ev.Channel)
	f[4] = bool01(ev.Channel == contracts.ChannelECommerce || ev.Channel == contracts.ChannelMOTO || ev.Channel == contracts.ChannelRecurring)
	f[5] = float64(MCCRiskGroupOf(ev.MCC))
	f[6] = bool01(ev.CardCountry != ev.MerchantCountry)
	if ev.IPCountry == "" {
		f[7], f[8] = nan, nan
	} else {
		f[7] = bool01(ev.IPCountry != ev.CardCountry)
		f[8] = bool01(ev.IPCountry != ev.MerchantCountry)
	}
	f[9] = float64(ev.AccountAgeDays)
	f[10] = bool01(ev.DeviceID != "")
	f[11], f[12], f[13], f[14], f[15] = nan, nan, nan, nan, nan
	if a := ev.Aggregates; a != nil {
		if a.CardTxnCount1h != nil {
			f[11] = float64(*a.CardTxnCount1h)
		}
		if a.CardAmount24hMinor != nil {
			sum := MajorUnits(*a.CardAmount24hMinor, ev.Currency)
			f[12] = math.Log1p(sum)
			f[13] = amount / (amount + sum)
		}
		if a.DeviceCardCount24h != nil {
			f[14] = float64(*a.DeviceCardCount24h)
		}
		if a.NewDevice != nil {
			f[15] = bool01(*a.NewDevice)
		}
	}
	f[16] = bool01(highRiskCountry(ev.MerchantCountry))
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// channelCode is the position of c in contracts.Channels, or NaN if unknown.
func channelCode(c contracts.Channel) float64 {
	for i, known := range contracts.Channels {
		if c == known {
			return float64(i)
		}
	}
	return math.NaN()
}

// MajorUnits converts an amount in minor units to major units using the
// currency's ISO 4217 exponent (2 unless listed otherwise).
func MajorUnits(minor int64, currency string) float64 {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return float64(minor)
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return float64(minor) / 1000
	case "CLF", "UYW":
		return float64(minor) / 10000
	}
	return float64(minor) / 100
}

// MCC risk groups.
const (
	MCCRiskLow    = 0
	MCCRiskMedium = 1
	MCCRiskHigh   = 2
)

// MCCRiskGroupOf classifies a merchant category code: high for gambling,
// quasi-cash, money transfer, crypto and similar cash-out categories; medium
// for categories with frequent card-not-present fraud (electronics, jewelry,
// travel, digital goods); low otherwise.
func MCCRiskGroupOf(mcc string) int {
	switch mcc {
	case "4829", "6051", "6211", "6538", "6540", "7995", "7801", "7802", "5993", "5967", "6012":
		return MCCRiskHigh
	case "5732", "5944", "5045", "4722", "4511", "5818", "5816", "5817", "5815", "5999", "7011", "5094", "5122":
		return MCCRiskMedium
	}
	return MCCRiskLow
}

// highRiskCountry lists merchant countries with elevated cross-border fraud
// in the synthetic scenarios; a real deployment derives such lists from its
// own chargeback data.
func highRiskCountry(cc string) bool {
	switch cc {
	case "NG", "RU", "UA", "VN", "ID", "BR", "RO", "PH":
		return true
	}
	return false
}
