package rules

import (
	"math"
	"slices"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/features"
)

// Input is what a rule sees of one transaction: the event and the result
// of the model that decided it. Evaluate only reads it.
type Input struct {
	// Event is the validated transaction event (required).
	Event *contracts.TransactionEvent
	// Score, Decision and ModelVersion are the deciding model's.
	Score        float64
	Decision     contracts.Decision
	ModelVersion string
	// Reasons are the verdict's reason codes (may be empty).
	Reasons []string
	// Features holds the deciding model's feature values indexed like
	// features.Names(), NaN for a feature it does not read; nil makes
	// every features.<name> NaN.
	Features *[features.Count]float64
	// Challenger is the challenger's result when it scored the transaction
	// in shadow; nil makes every challenger.<field> optional.none().
	Challenger *contracts.ShadowResult
}

// varID indexes the declared variables.
type varID uint8

const (
	vTransactionID varID = iota
	vCardToken
	vCurrency
	vMerchantID
	vMCC
	vMerchantCountry
	vChannel
	vCardCountry
	vIPCountry
	vDeviceID
	vAmountMinor
	vAccountAgeDays
	vEventTime
	vCardTxnCount1h
	vCardAmount24h
	vDeviceCardCount24h
	vNewDevice
	vScore
	vDecision
	vModelVersion
	vReasons
	vChallengerScore
	vChallengerDecision
	vChallengerModelVersion
	vFeature0 // features.<name>, Count of them in features.Names() order
	numVars   = vFeature0 + features.Count
)

// Variable is one name a rule may use.
type Variable struct {
	// Name as written in an expression, e.g. event.amount_minor.
	Name string
	// Type is the CEL type, e.g. int, optional_type(int).
	Type string
	// Doc says what the value is.
	Doc string
}

type variable struct {
	Variable
	typ *cel.Type
}

// declarations are the variables, in varID order, and their index by name.
type declarations struct {
	vars  [numVars]variable
	index map[string]varID
}

// declared is built once: the variables, in varID order, and their index
// by name. Both are read-only after construction.
var declared = sync.OnceValue(func() *declarations {
	d := new(declarations)
	set := func(id varID, name string, typ *cel.Type, doc string) {
		d.vars[id] = variable{Variable{Name: name, Type: typ.String(), Doc: doc}, typ}
	}
	str, i64, dbl := cel.StringType, cel.IntType, cel.DoubleType
	set(vTransactionID, "event.transaction_id", str, "the transaction id")
	set(vCardToken, "event.card_token", str, "the card token")
	set(vCurrency, "event.currency", str, "ISO 4217 currency code")
	set(vMerchantID, "event.merchant_id", str, "the merchant id")
	set(vMCC, "event.mcc", str, "4-digit merchant category code")
	set(vMerchantCountry, "event.merchant_country", str, "ISO 3166-1 alpha-2 merchant country")
	set(vChannel, "event.channel", str, "card_present, ecommerce, atm, moto, contactless or recurring")
	set(vCardCountry, "event.card_country", str, "ISO 3166-1 alpha-2 card issuing country")
	set(vIPCountry, "event.ip_country", str, `client IP country, "" when unknown`)
	set(vDeviceID, "event.device_id", str, `device id, "" when unknown`)
	set(vAmountMinor, "event.amount_minor", i64, "amount in minor units of the currency")
	set(vAccountAgeDays, "event.account_age_days", i64, "age of the customer account in days")
	set(vEventTime, "event.event_time", cel.TimestampType, "when the payment happened")
	set(vCardTxnCount1h, "event.card_txn_count_1h", cel.OptionalType(i64), "upstream aggregate; optional.none() when absent")
	set(vCardAmount24h, "event.card_amount_24h_minor", cel.OptionalType(i64), "upstream aggregate; optional.none() when absent")
	set(vDeviceCardCount24h, "event.device_card_count_24h", cel.OptionalType(i64), "upstream aggregate; optional.none() when absent")
	set(vNewDevice, "event.new_device", cel.OptionalType(cel.BoolType), "upstream aggregate; optional.none() when absent")
	set(vScore, "score", dbl, "the deciding model's score in [0, 1]")
	set(vDecision, "decision", str, "the deciding model's decision: approve, review or decline")
	set(vModelVersion, "model_version", str, "the deciding model's version")
	set(vReasons, "reasons", cel.ListType(str), "the verdict's reason codes (may be empty)")
	set(vChallengerScore, "challenger.score", cel.OptionalType(dbl), "the challenger's score when it scored in shadow; optional.none() otherwise")
	set(vChallengerDecision, "challenger.decision", cel.OptionalType(str), "the challenger's would-be decision; optional.none() when it did not score in shadow")
	set(vChallengerModelVersion, "challenger.model_version", cel.OptionalType(str), "the challenger's version; optional.none() when it did not score in shadow")
	for i, name := range features.Names() {
		set(vFeature0+varID(i), "features."+name, dbl, "the deciding model's feature value; NaN when it does not read it or the input was missing")
	}
	d.index = make(map[string]varID, numVars)
	for id := range d.vars {
		d.index[d.vars[id].Name] = varID(id)
	}
	return d
})

// Variables lists every name a rule may use, in a stable order.
func Variables() []Variable {
	d := declared()
	out := make([]Variable, numVars)
	for i := range d.vars {
		out[i] = d.vars[i].Variable
	}
	return out
}

// envOptions declares the variables to CEL, with the optional library.
func envOptions() []cel.EnvOption {
	d := declared()
	opts := []cel.EnvOption{cel.OptionalTypes()}
	for i := range d.vars {
		opts = append(opts, cel.Variable(d.vars[i].Name, d.vars[i].typ))
	}
	return opts
}

// internTable holds CEL values boxed once.
type internTable struct {
	alpha2 [26 * 26]ref.Val
	mcc    [10000]ref.Val
	small  map[string]ref.Val
	empty  ref.Val
}

// interned holds CEL values boxed once, so that the strings most rules
// read do not allocate per event: every two-letter upper-case code
// (countries), every four-digit MCC, the channels and the decisions.
// Read-only after construction.
var interned = sync.OnceValue(func() *internTable {
	t := new(internTable)
	for i := range t.alpha2 {
		t.alpha2[i] = types.String([]byte{byte('A' + i/26), byte('A' + i%26)})
	}
	for i := range t.mcc {
		t.mcc[i] = types.String([]byte{byte('0' + i/1000), byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)})
	}
	t.small = make(map[string]ref.Val)
	for _, c := range contracts.Channels {
		t.small[string(c)] = types.String(c)
	}
	for _, d := range contracts.Decisions {
		t.small[string(d)] = types.String(d)
	}
	t.small[""] = types.String("")
	t.empty = types.NewStringList(types.DefaultTypeAdapter, nil)
	return t
})

// boxString returns s as a CEL value, from the interned tables when it is
// there (no allocation).
func boxString(s string) ref.Val {
	t := interned()
	switch len(s) {
	case 2:
		if a, b := s[0]-'A', s[1]-'A'; a < 26 && b < 26 {
			return t.alpha2[int(a)*26+int(b)]
		}
	case 4:
		n := 0
		for i := 0; i < 4; i++ {
			d := s[i] - '0'
			if d > 9 {
				return types.String(s)
			}
			n = n*10 + int(d)
		}
		return t.mcc[n]
	}
	if v, ok := t.small[s]; ok {
		return v
	}
	return types.String(s)
}

// activation resolves the declared names for one Input. Values are boxed
// on first use and kept for the rules after (one box per name and event at
// most); activations are pooled by their Set.
type activation struct {
	in   *Input
	have uint64 // bit id set: vals[id] holds the value for in
	vals [numVars]ref.Val
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) reset(in *Input) {
	a.in = in
	a.have = 0
}

// lookup returns the id of a declared name: a switch for the event and
// model names (cheaper than a map lookup, and this runs for every variable
// every rule reads), the index for the features.
func lookup(name string) (varID, bool) {
	switch name {
	case "event.transaction_id":
		return vTransactionID, true
	case "event.card_token":
		return vCardToken, true
	case "event.currency":
		return vCurrency, true
	case "event.merchant_id":
		return vMerchantID, true
	case "event.mcc":
		return vMCC, true
	case "event.merchant_country":
		return vMerchantCountry, true
	case "event.channel":
		return vChannel, true
	case "event.card_country":
		return vCardCountry, true
	case "event.ip_country":
		return vIPCountry, true
	case "event.device_id":
		return vDeviceID, true
	case "event.amount_minor":
		return vAmountMinor, true
	case "event.account_age_days":
		return vAccountAgeDays, true
	case "event.event_time":
		return vEventTime, true
	case "event.card_txn_count_1h":
		return vCardTxnCount1h, true
	case "event.card_amount_24h_minor":
		return vCardAmount24h, true
	case "event.device_card_count_24h":
		return vDeviceCardCount24h, true
	case "event.new_device":
		return vNewDevice, true
	case "score":
		return vScore, true
	case "decision":
		return vDecision, true
	case "model_version":
		return vModelVersion, true
	case "reasons":
		return vReasons, true
	case "challenger.score":
		return vChallengerScore, true
	case "challenger.decision":
		return vChallengerDecision, true
	case "challenger.model_version":
		return vChallengerModelVersion, true
	}
	id, ok := declared().index[name]
	return id, ok
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	id, ok := lookup(name)
	if !ok {
		return nil, false
	}
	if a.have&(1<<id) != 0 {
		return a.vals[id], true
	}
	v := a.value(id)
	a.vals[id] = v
	a.have |= 1 << id
	return v, true
}

// Parent implements interpreter.Activation: there is none.
func (a *activation) Parent() interpreter.Activation { return nil }

func optInt[T int32 | int64](p *T) ref.Val {
	if p == nil {
		return types.OptionalNone
	}
	return types.OptionalOf(types.Int(*p))
}

// value boxes the value of variable id.
func (a *activation) value(id varID) ref.Val {
	in := a.in
	ev := in.Event
	ag := ev.Aggregates
	if ag == nil {
		ag = &contracts.Aggregates{}
	}
	switch id {
	case vTransactionID:
		return types.String(ev.TransactionID)
	case vCardToken:
		return types.String(ev.CardToken)
	case vCurrency:
		return boxString(ev.Currency)
	case vMerchantID:
		return types.String(ev.MerchantID)
	case vMCC:
		return boxString(ev.MCC)
	case vMerchantCountry:
		return boxString(ev.MerchantCountry)
	case vChannel:
		return boxString(string(ev.Channel))
	case vCardCountry:
		return boxString(ev.CardCountry)
	case vIPCountry:
		return boxString(ev.IPCountry)
	case vDeviceID:
		return types.String(ev.DeviceID)
	case vAmountMinor:
		return types.Int(ev.AmountMinor)
	case vAccountAgeDays:
		return types.Int(ev.AccountAgeDays)
	case vEventTime:
		return types.Timestamp{Time: ev.EventTime}
	case vCardTxnCount1h:
		return optInt(ag.CardTxnCount1h)
	case vCardAmount24h:
		return optInt(ag.CardAmount24hMinor)
	case vDeviceCardCount24h:
		return optInt(ag.DeviceCardCount24h)
	case vNewDevice:
		if ag.NewDevice == nil {
			return types.OptionalNone
		}
		return types.OptionalOf(types.Bool(*ag.NewDevice))
	case vScore:
		return types.Double(in.Score)
	case vDecision:
		return boxString(string(in.Decision))
	case vModelVersion:
		return types.String(in.ModelVersion)
	case vReasons:
		if len(in.Reasons) == 0 {
			return interned().empty
		}
		return types.NewStringList(types.DefaultTypeAdapter, in.Reasons)
	case vChallengerScore:
		if in.Challenger == nil {
			return types.OptionalNone
		}
		return types.OptionalOf(types.Double(in.Challenger.Score))
	case vChallengerDecision:
		if in.Challenger == nil {
			return types.OptionalNone
		}
		return types.OptionalOf(boxString(string(in.Challenger.Decision)))
	case vChallengerModelVersion:
		if in.Challenger == nil {
			return types.OptionalNone
		}
		return types.OptionalOf(types.String(in.Challenger.ModelVersion))
	}
	f := math.NaN()
	if in.Features != nil {
		f = in.Features[id-vFeature0]
	}
	return types.Double(f)
}

// FeatureIndex maps the positions of a model's feature row (row[i] is the
// feature names[i]) to the indexes of Input.Features (features.Names()
// order); -1 for a name that is not a known feature.
func FeatureIndex(names []string) []int {
	all := features.Names()
	idx := make([]int, len(names))
	for i, n := range names {
		idx[i] = slices.Index(all, n)
	}
	return idx
}

// FeatureValues returns the values of a model's feature row (row[i] is the
// feature names[i]) indexed like features.Names(), as Input.Features wants
// them; a feature the model does not read is NaN.
func FeatureValues(names []string, row []float64) *[features.Count]float64 {
	var out [features.Count]float64
	CopyFeatures(&out, FeatureIndex(names), row)
	return &out
}

// CopyFeatures sets every value of dst to NaN, then copies row into it
// through index (from FeatureIndex). It does not allocate.
func CopyFeatures(dst *[features.Count]float64, index []int, row []float64) {
	for i := range dst {
		dst[i] = math.NaN()
	}
	for i, v := range row {
		if i < len(index) && index[i] >= 0 {
			dst[index[i]] = v
		}
	}
}
