package training

import (
	"fmt"

	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// defaultReasons is the reason of every feature training knows. A code
// names the feature, not a direction: a positive contribution says the
// value the model saw pushed the score up, whichever way it lies. Codes are
// stable: a dashboard or a case tool may key on them across versions.
var defaultReasons = map[string][2]string{ // feature -> code, text
	features.LogAmount:             {"TRANSACTION_AMOUNT", "Transaction amount is typical of fraud"},
	features.HourOfDay:             {"TIME_OF_DAY", "Hour of the day (UTC) is typical of fraud"},
	features.DayOfWeek:             {"DAY_OF_WEEK", "Day of the week (UTC) is typical of fraud"},
	features.Channel:               {"CHANNEL_RISK", "Payment channel carries more fraud"},
	features.CardNotPresent:        {"CARD_NOT_PRESENT", "Card was not present (e-commerce, mail or phone order, recurring)"},
	features.MCCRiskGroup:          {"MERCHANT_CATEGORY_RISK", "Merchant category carries more fraud"},
	features.CardMerchantMismatch:  {"CARD_MERCHANT_COUNTRY_MISMATCH", "Merchant country differs from the card's issuing country"},
	features.IPCardMismatch:        {"IP_CARD_COUNTRY_MISMATCH", "IP country differs from the card's issuing country"},
	features.IPMerchantMismatch:    {"IP_MERCHANT_COUNTRY_MISMATCH", "IP country differs from the merchant's country"},
	features.AccountAgeDays:        {"ACCOUNT_AGE", "Account age is typical of fraud"},
	features.HasDevice:             {"DEVICE_INFO", "Device information (present or absent) is typical of fraud"},
	features.CardTxnCount1h:        {"CARD_VELOCITY_1H", "Number of the card's transactions in the last hour is typical of fraud"},
	features.LogCardAmount24h:      {"CARD_AMOUNT_24H", "Amount spent on the card in the last 24 hours is typical of fraud"},
	features.AmountShareOf24h:      {"AMOUNT_SHARE_24H", "This amount's share of the card's 24-hour spend is typical of fraud"},
	features.DeviceCardCount24h:    {"DEVICE_CARD_COUNT_24H", "Number of cards used on this device in the last 24 hours is typical of fraud"},
	features.NewDevice:             {"NEW_DEVICE", "Device not seen before with this card"},
	features.HighRiskMerchantCntry: {"HIGH_RISK_MERCHANT_COUNTRY", "Merchant country is on the high-risk list"},
}

// DefaultReasons returns the reason table of a model reading names: the
// default reason of each. A name training does not know is an error, so a
// version never ships a table that misses a feature.
func DefaultReasons(names []string) (modelstore.ReasonTable, error) {
	t := make(modelstore.ReasonTable, len(names))
	for _, n := range names {
		r, ok := defaultReasons[n]
		if !ok {
			return nil, fmt.Errorf("training: no default reason for feature %q", n)
		}
		t[n] = modelstore.Reason{Code: r[0], Text: r[1]}
	}
	return t, nil
}

// WriteDefaultReasons writes the default reason table of version (for its
// metadata's features) into the store, beside the model and metadata,
// which stay unchanged.
func WriteDefaultReasons(store *modelstore.Store, version string) error {
	meta, err := store.ReadMetadata(version)
	if err != nil {
		return err
	}
	t, err := DefaultReasons(meta.Features)
	if err != nil {
		return err
	}
	return store.WriteReasons(version, t)
}
