// Package synthetic generates labelled synthetic payment transactions,
// deterministically from a seed. Training and the load tester share it, so the
// model is trained on exactly the traffic the load tester sends.
//
// Legitimate traffic is a mix of card-present, contactless, e-commerce and
// recurring payments by cards mostly used at home. Fraud follows documented
// scenarios (see Scenario) at a configurable rate (default 1.2%). The
// scenarios overlap with legitimate behaviour on purpose: travellers pay
// abroad, people buy electronics online, so the model has real work to do.
//
// The default mode draws every transaction on its own, with the velocity
// aggregates an upstream system would send already filled in (for ~80% of
// events). Population mode (Config.Population) instead generates the raw
// event streams of a finite set of cards and devices, in event-time order, so
// the aggregates can be computed from the stream the way fraudscore computes
// them in serving (package scorer/velocity).
package synthetic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
)

// Scenario names the story behind a generated transaction.
type Scenario string

// Scenarios the generator draws from.
const (
	// Legit is an ordinary payment.
	Legit Scenario = "legit"
	// CardTesting is a burst of small card-not-present amounts on a stolen
	// card number, often at digital-goods merchants, many per hour.
	CardTesting Scenario = "card_testing"
	// AccountTakeover is a new device with a foreign IP and a high amount on an
	// established account.
	AccountTakeover Scenario = "account_takeover"
	// StolenCardAbroad is a card-present or ATM payment far from the card's
	// home country, often in a high-risk country.
	StolenCardAbroad Scenario = "stolen_card_abroad"
	// HighRiskMerchant is a cash-out at gambling, money-transfer or crypto
	// merchants with a young account.
	HighRiskMerchant Scenario = "high_risk_merchant"
	// FirstPartyFraud is a payment that looks ordinary in every field and is
	// disputed later by the cardholder: no model can see it, which keeps the
	// achievable recall honest.
	FirstPartyFraud Scenario = "first_party"
)

// FraudScenarios lists the fraud scenarios; the generator draws them with
// weights 25/20/20/20/15 (card testing most common, first-party least).
var FraudScenarios = [...]Scenario{CardTesting, AccountTakeover, StolenCardAbroad, HighRiskMerchant, FirstPartyFraud}

var scenarioWeights = [...]float64{0.25, 0.20, 0.20, 0.20, 0.15}

func drawScenario(x float64) Scenario {
	for i, w := range scenarioWeights {
		if x < w {
			return FraudScenarios[i]
		}
		x -= w
	}
	return FraudScenarios[len(FraudScenarios)-1]
}

// Label is the ground truth of a generated transaction.
type Label struct {
	Fraud    bool
	Scenario Scenario
}

// Config configures a Generator.
type Config struct {
	// Seed makes the sequence reproducible.
	Seed uint64
	// FraudRate is the fraction of fraudulent transactions (default 0.012).
	FraudRate float64
	// Start is the event time of the first transaction when Now is nil
	// (default 2026-01-05T00:00:00Z); later ones advance by a random gap.
	Start time.Time
	// Now, when set, stamps events with the wall clock instead (load tests).
	Now func() time.Time
	// IDPrefix prefixes transaction ids, which are IDPrefix followed by the
	// event's number (1, 2, ...), and in population mode card tokens and
	// device ids too, so two runs never share velocity state. The default,
	// DefaultIDPrefix(Seed), never forms a card number with the counter; a
	// prefix of your own that ends in digits and a dash or a space may: the
	// digits on both sides then read as one grouped number, and an event
	// whose id passes the Luhn check is refused as carrying a card number
	// (see contracts.LooksLikePAN).
	IDPrefix string
	// Population, when set, switches to population mode (see Population):
	// raw per-card and per-device streams in event-time order, without
	// upstream aggregates. Now is ignored in that mode: event times come from
	// the simulated clock, which starts at Start. Nil keeps the default mode,
	// whose output for a seed never changes.
	Population *Population
}

// Generator produces transactions. It is not safe for concurrent use.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	clock time.Time
	n     uint64
	pop   *population // nil in the default mode
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	if cfg.FraudRate <= 0 || cfg.FraudRate >= 1 {
		cfg.FraudRate = 0.012
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = DefaultIDPrefix(cfg.Seed)
	}
	g := &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), clock: cfg.Start}
	if cfg.Population != nil {
		g.pop = g.newPopulation()
	}
	return g
}

// panSafeDigits is the longest run of digits that can never be a card
// number (contracts.LooksLikePAN looks for 13 to 19).
const panSafeDigits = 12

// DefaultIDPrefix returns Config.IDPrefix's default for seed: "syn-<seed>_",
// as in "syn-20261127_10002" (the event's number follows). The underscore
// keeps the seed's digits and the counter's apart, where a dash or a space
// would join them into one grouped number that passes the Luhn check for
// about one id in ten ("syn-20261202-10003" looks like a card number), and a
// seed longer than 12 digits has its last 12 split off by another underscore
// ("syn-1764680_000000000000_"), so no run of digits in a default id is
// long enough to be a card number until the counter itself reaches 13
// digits (10^12 events).
func DefaultIDPrefix(seed uint64) string {
	s := strconv.FormatUint(seed, 10)
	if n := len(s); n > panSafeDigits {
		s = s[:n-panSafeDigits] + "_" + s[n-panSafeDigits:]
	}
	return "syn-" + s + "_"
}

var (
	homeCountries = [...]string{"US", "US", "US", "GB", "DE", "FR", "NL", "ES", "IT", "CA", "AU", "SE", "PL", "JP"}
	riskCountries = [...]string{"NG", "RU", "UA", "VN", "ID", "BR", "RO", "PH"}
	travelCntries = [...]string{"US", "GB", "FR", "ES", "IT", "TH", "MX", "PT", "GR", "TR", "AE", "BR"}
	lowMCCs       = [...]string{"5411", "5812", "5814", "5541", "5912", "5311", "5651", "4121", "5499", "4900", "5200", "5942"}
	medMCCs       = [...]string{"5732", "5944", "4722", "4511", "5818", "5816", "5999", "7011"}
	highMCCs      = [...]string{"7995", "6051", "4829", "5967", "6012"}
	digitalMCCs   = [...]string{"5818", "5816", "5817", "5815"}
)

func currencyOf(country string) string {
	switch country {
	case "US":
		return "USD"
	case "GB":
		return "GBP"
	case "CA":
		return "CAD"
	case "AU":
		return "AUD"
	case "SE":
		return "SEK"
	case "PL":
		return "PLN"
	case "JP":
		return "JPY"
	}
	return "EUR"
}

// Next returns the next transaction and its label.
func (g *Generator) Next() (contracts.TransactionEvent, Label) {
	if g.pop != nil {
		return g.nextPopulation()
	}
	g.n++
	r := g.rng
	// Time advances by an exponential gap averaging 1.5 s of simulated time;
	// fraud and legit share the clock, only the hour mix differs.
	g.clock = g.clock.Add(time.Duration(r.ExpFloat64() * 1.5 * float64(time.Second)))
	lbl := Label{Scenario: Legit}
	if r.Float64() < g.cfg.FraudRate {
		lbl.Fraud = true
		lbl.Scenario = drawScenario(r.Float64())
	}
	home := homeCountries[r.IntN(len(homeCountries))]
	ev := contracts.TransactionEvent{
		SchemaVersion:   contracts.TransactionEventSchemaV1,
		TransactionID:   fmt.Sprintf("%s%d", g.cfg.IDPrefix, g.n),
		CardToken:       fmt.Sprintf("tok_%x", r.Uint64()%50_000_000),
		CardCountry:     home,
		MerchantCountry: home,
		IPCountry:       home,
		Currency:        currencyOf(home),
		MerchantID:      fmt.Sprintf("m_%06d", r.IntN(200_000)),
		AccountAgeDays:  int32(math.Min(36000, r.ExpFloat64()*900)),
	}
	if r.Float64() < 0.85 {
		ev.DeviceID = fmt.Sprintf("dev_%x", r.Uint64()%1_000_000_000)
	}
	hour := legitHour(r)
	var txn1h, devCards int32
	var amount24h int64
	newDevice := false
	switch lbl.Scenario {
	case Legit, FirstPartyFraud:
		g.legit(&ev)
		txn1h = int32(r.IntN(4))
		amount24h = int64(r.ExpFloat64() * 8000)
		devCards = 1 + int32(r.IntN(2))
		newDevice = r.Float64() < 0.06
		if ev.AccountAgeDays < 30 {
			newDevice = r.Float64() < 0.4
		}
	case CardTesting:
		ev.Channel = contracts.ChannelECommerce
		ev.MCC = pick(r, digitalMCCs[:])
		if r.Float64() < 0.5 {
			ev.MCC = pick(r, lowMCCs[:])
		}
		ev.AmountMinor = 50 + int64(r.IntN(450))
		if r.Float64() < 0.3 {
			ev.AmountMinor = int64(math.Exp(r.NormFloat64()*0.8 + 7.5))
		}
		txn1h = 1 + int32(r.IntN(20))
		amount24h = int64(txn1h) * (100 + int64(r.IntN(300)))
		devCards = 1 + int32(r.IntN(6))
		newDevice = r.Float64() < 0.6
		hour = r.IntN(24)
		if r.Float64() < 0.5 {
			ev.IPCountry = pick(r, riskCountries[:])
		}
	case AccountTakeover:
		ev.Channel = contracts.ChannelECommerce
		ev.MCC = pick(r, medMCCs[:])
		ev.AmountMinor = 30_000 + int64(r.ExpFloat64()*120_000)
		ev.AccountAgeDays = 200 + int32(r.IntN(3000))
		ev.IPCountry = pick(r, riskCountries[:])
		switch x := r.Float64(); {
		case x < 0.3:
			ev.IPCountry = pick(r, travelCntries[:])
		case x < 0.55:
			ev.IPCountry = home // residential proxy in the victim's country
		}
		ev.DeviceID = fmt.Sprintf("dev_%x", r.Uint64()>>24)
		txn1h = int32(r.IntN(3))
		amount24h = int64(r.ExpFloat64() * 10_000)
		devCards = 1 + int32(r.IntN(3))
		newDevice = r.Float64() < 0.85
		hour = r.IntN(24)
	case StolenCardAbroad:
		ev.Channel = contracts.ChannelCardPresent
		if r.Float64() < 0.4 {
			ev.Channel = contracts.ChannelATM
			ev.MCC = "6011"
		} else {
			ev.MCC = pick(r, append(medMCCs[:4:4], lowMCCs[:3]...))
		}
		ev.MerchantCountry = pick(r, riskCountries[:])
		if r.Float64() < 0.35 {
			ev.MerchantCountry = pick(r, travelCntries[:])
		}
		ev.IPCountry = ""
		ev.AmountMinor = 8_000 + int64(r.ExpFloat64()*60_000)
		txn1h = 1 + int32(r.IntN(5))
		amount24h = int64(r.ExpFloat64() * 40_000)
		devCards = 1
		hour = r.IntN(24)
	case HighRiskMerchant:
		ev.Channel = contracts.ChannelECommerce
		ev.MCC = pick(r, highMCCs[:])
		ev.AmountMinor = 10_000 + int64(r.ExpFloat64()*90_000)
		ev.AccountAgeDays = int32(r.IntN(60))
		if r.Float64() < 0.4 {
			ev.AccountAgeDays = int32(r.ExpFloat64() * 600)
		}
		if r.Float64() < 0.5 {
			ev.IPCountry = pick(r, riskCountries[:])
		}
		txn1h = 1 + int32(r.IntN(4))
		amount24h = int64(r.ExpFloat64() * 50_000)
		devCards = 1 + int32(r.IntN(4))
		newDevice = r.Float64() < 0.7
		hour = r.IntN(24)
	}
	if g.cfg.Now != nil {
		ev.EventTime = g.cfg.Now().UTC()
	} else {
		day := g.clock.Truncate(24 * time.Hour)
		ev.EventTime = day.Add(time.Duration(hour)*time.Hour + time.Duration(r.IntN(3600))*time.Second)
	}
	// Upstream aggregates are present for ~80% of traffic; each field may be
	// missing on its own, as real upstream systems are patchy.
	if r.Float64() < 0.8 {
		a := &contracts.Aggregates{}
		if r.Float64() < 0.95 {
			a.CardTxnCount1h = &txn1h
		}
		if r.Float64() < 0.9 {
			a.CardAmount24hMinor = &amount24h
		}
		if ev.DeviceID != "" && r.Float64() < 0.85 {
			a.DeviceCardCount24h = &devCards
			a.NewDevice = &newDevice
		}
		ev.Aggregates = a
	}
	if ev.AmountMinor < 1 {
		ev.AmountMinor = 1
	}
	return ev, lbl
}

func (g *Generator) legit(ev *contracts.TransactionEvent) {
	r := g.rng
	switch x := r.Float64(); {
	case x < 0.35:
		ev.Channel = contracts.ChannelCardPresent
	case x < 0.6:
		ev.Channel = contracts.ChannelContactless
	case x < 0.88:
		ev.Channel = contracts.ChannelECommerce
	case x < 0.95:
		ev.Channel = contracts.ChannelRecurring
	case x < 0.98:
		ev.Channel = contracts.ChannelATM
	default:
		ev.Channel = contracts.ChannelMOTO
	}
	switch x := r.Float64(); {
	case ev.Channel == contracts.ChannelATM:
		ev.MCC = "6011"
	case x < 0.78:
		ev.MCC = pick(r, lowMCCs[:])
	case x < 0.97:
		ev.MCC = pick(r, medMCCs[:])
	default:
		ev.MCC = pick(r, highMCCs[:])
	}
	// VPN users and people paying from abroad online.
	if ev.Channel == contracts.ChannelECommerce && r.Float64() < 0.04 {
		ev.IPCountry = pick(r, append(travelCntries[:], riskCountries[:]...))
	}
	// Log-normal amounts around 30 major units.
	ev.AmountMinor = int64(math.Exp(r.NormFloat64()*1.1 + 8.0))
	// Travellers: 6% pay abroad, and their IP follows them.
	if r.Float64() < 0.06 {
		ev.MerchantCountry = pick(r, travelCntries[:])
		ev.IPCountry = ev.MerchantCountry
		if r.Float64() < 0.1 {
			ev.MerchantCountry = pick(r, riskCountries[:])
		}
	}
	// Cross-border online shopping with the IP at home.
	if ev.Channel == contracts.ChannelECommerce && r.Float64() < 0.15 {
		ev.MerchantCountry = pick(r, travelCntries[:])
	}
	if ev.Channel == contracts.ChannelCardPresent || ev.Channel == contracts.ChannelContactless || ev.Channel == contracts.ChannelATM {
		if r.Float64() < 0.5 {
			ev.IPCountry = ""
		}
	}
}

func legitHour(r *rand.Rand) int {
	// Daytime-heavy: 90% between 07:00 and 22:59 UTC.
	if r.Float64() < 0.9 {
		return 7 + r.IntN(16)
	}
	return r.IntN(24)
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }
