package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of TransactionEvent v1. They are part of the contract: tightening
// one requires a new schema version (see docs/contracts.md).
const (
	// DefaultMaxEventBytes is the default payload size limit of a Validator.
	DefaultMaxEventBytes = 64 << 10
	// DefaultMaxFutureSkew is how far in the future an event_time may be by
	// default, to tolerate producer clock skew.
	DefaultMaxFutureSkew = 5 * time.Minute

	MaxTransactionIDLen = 64            // characters of transaction_id
	MaxCardTokenLen     = 128           // characters of card_token
	MaxMerchantIDLen    = 64            // characters of merchant_id
	MaxDeviceIDLen      = 128           // characters of device_id
	MaxAmountMinor      = 1e15          // largest amount_minor
	MaxAccountAgeDays   = 36500         // largest account_age_days (100 years)
	MaxVersionLen       = 128           // characters of model_version and policy_version
	minEventYear        = 2000          // event_time must not be before this year
	missingInt32        = math.MinInt32 // marks account_age_days absent during decoding
)

// Problem messages. None of them contains the offending value.
const (
	msgRequired      = "required"
	msgPAN           = "looks like a card number (PAN); send a token"
	msgString        = "must be a string"
	msgInteger       = "must be an integer"
	msgNumber        = "must be a number"
	msgBool          = "must be a boolean"
	msgObject        = "must be an object"
	msgArray         = "must be an array"
	msgNotObject     = "payload must be a JSON object"
	msgSchemaVersion = "unsupported schema version"
	msgIDChars       = "must contain only A-Z, a-z, 0-9, '.', '_', ':' and '-'"
	msgTimestamp     = "must be an RFC 3339 timestamp"
	msgBefore2000    = "must not be before 2000-01-01T00:00:00Z"
	msgPositive      = "must be positive"
	msgAmountMax     = "must be at most 1000000000000000"
	msgCurrency      = "must be an active ISO 4217 currency code"
	msgCountry       = "must be an ISO 3166-1 alpha-2 country code"
	msgMCC           = "must be exactly 4 digits"
	msgChannel       = "must be one of card_present, ecommerce, atm, moto, contactless, recurring"
	msgAccountAge    = "must be between 0 and 36500"
	msgNegative      = "must not be negative"
	msgInt32Range    = "must fit in a signed 32-bit integer"
	msgInt64Range    = "must fit in a signed 64-bit integer"
	msgDecision      = "must be one of approve, review, decline"
	msgScore         = "must be between 0 and 1"
)

// Validator decodes and validates messages. The zero value is usable and
// applies the defaults; so is a nil *Validator. A Validator is safe for
// concurrent use as long as its fields are not modified.
type Validator struct {
	// MaxBytes is the largest accepted payload; <= 0 means
	// DefaultMaxEventBytes. Larger payloads fail with KindTooLarge unparsed.
	MaxBytes int
	// MaxFutureSkew is how far after Now an event_time may be; <= 0 means
	// DefaultMaxFutureSkew.
	MaxFutureSkew time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// NewValidator returns a Validator with the default limits.
func NewValidator() *Validator {
	return &Validator{MaxBytes: DefaultMaxEventBytes, MaxFutureSkew: DefaultMaxFutureSkew, Now: time.Now}
}

func (v *Validator) maxBytes() int {
	if v == nil || v.MaxBytes <= 0 {
		return DefaultMaxEventBytes
	}
	return v.MaxBytes
}

func (v *Validator) maxFutureSkew() time.Duration {
	if v == nil || v.MaxFutureSkew <= 0 {
		return DefaultMaxFutureSkew
	}
	return v.MaxFutureSkew
}

func (v *Validator) now() time.Time {
	if v == nil || v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

// errNilDestination is returned for a nil destination: a programming error,
// not a property of the message, so it is not a *ValidationError.
var errNilDestination = errors.New("contracts: decode into a nil pointer")

// DecodeEvent decodes data into ev and validates it. ev is reset first, so the
// caller may reuse one TransactionEvent across messages. Unknown fields are
// ignored. On failure the error is a *ValidationError listing every problem
// (Kind too_large without parsing when len(data) > MaxBytes; malformed for
// bad JSON or wrong JSON types; invalid for contract violations) and ev must
// not be used. DecodeEvent never panics.
//
// DecodeEvent may reuse the Aggregates that ev pointed to before the call,
// and the values its fields pointed to, for the new event's aggregates: a
// caller must not keep those pointers (or a copy of ev that shares them)
// across calls. Decoded strings never alias data.
//
// Canonical payloads are parsed by a hand-written single pass
// (decode_fast.go) that produces exactly what encoding/json would; any other
// payload is decoded with encoding/json into the struct, and only when that
// reports a type error is it decoded a second, slower way to enumerate every
// problem with its path.
func (v *Validator) DecodeEvent(data []byte, ev *TransactionEvent) error {
	_, err := v.decodeEvent(data, ev, true)
	return err
}

// decodeEventReference is DecodeEvent without the hand-written fast path:
// encoding/json only. Tests compare the two.
func (v *Validator) decodeEventReference(data []byte, ev *TransactionEvent) error {
	_, err := v.decodeEvent(data, ev, false)
	return err
}

// decodeEvent implements DecodeEvent; fast reports whether the hand-written
// parser decoded the payload (tryFast enables it).
func (v *Validator) decodeEvent(data []byte, ev *TransactionEvent, tryFast bool) (fast bool, err error) {
	if ev == nil {
		return false, errNilDestination
	}
	prev := ev.Aggregates
	*ev = TransactionEvent{}
	if max := v.maxBytes(); len(data) > max {
		return false, singleProblem(KindTooLarge, "", "payload is "+strconv.Itoa(len(data))+" bytes; the limit is "+strconv.Itoa(max))
	}
	if !startsObject(data) {
		return false, malformedJSON(data)
	}
	ev.AccountAgeDays = missingInt32
	fast = tryFast && fastDecodeEvent(data, ev, prev)
	if !fast {
		if tryFast {
			*ev = TransactionEvent{AccountAgeDays: missingInt32}
		}
		if ve := checkStrict(data); ve != nil {
			// Decode what encoding/json can anyway, so that the caller can
			// name the transaction it rejects; the event must not be used.
			_ = json.Unmarshal(data, ev)
			return false, ve
		}
		if err := json.Unmarshal(data, ev); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return false, syntaxProblem(se.Offset)
			}
			return false, v.slowDecodeEvent(data, ev)
		}
	}
	var missing fieldSet
	if ev.AccountAgeDays == missingInt32 {
		ev.AccountAgeDays = 0
		missing |= fAccountAgeDays
	}
	var ps problems
	v.checkEvent(ev, 0, missing, &ps)
	return fast, ps.err()
}

// ValidateEvent validates an event built in Go. It applies the same rules as
// DecodeEvent except that it cannot tell an absent account_age_days from 0.
func (v *Validator) ValidateEvent(ev *TransactionEvent) error {
	if ev == nil {
		return singleProblem(KindInvalid, "", "nil event")
	}
	var ps problems
	v.checkEvent(ev, 0, 0, &ps)
	return ps.err()
}

// fieldSet is a set of TransactionEvent fields.
type fieldSet uint32

const (
	fSchemaVersion fieldSet = 1 << iota
	fTransactionID
	fEventTime
	fCardToken
	fAmountMinor
	fCurrency
	fMerchantID
	fMCC
	fMerchantCountry
	fChannel
	fCardCountry
	fIPCountry
	fDeviceID
	fAccountAgeDays
	fAggregates
	fAggCardTxnCount1h
	fAggCardAmount24h
	fAggDeviceCardCount24h
	fAggNewDevice
)

// checkSchemaVersion reports a missing or unknown schema_version. It returns
// false for an unknown version: other versions have other rules, so the
// version is then the only problem reported and checking stops.
func checkSchemaVersion(ps *problems, got, want string) bool {
	switch got {
	case want:
	case "":
		ps.add("schema_version", msgRequired)
	default:
		ps.list = append(ps.list[:0], Problem{Path: "schema_version", Message: msgSchemaVersion})
		ps.malformed = false
		return false
	}
	return true
}

// checkEvent appends the contract violations of ev to ps. Fields in done were
// already reported (wrong type or out of range) and are skipped; fields in
// missing were absent from the payload although their Go zero value is valid.
func (v *Validator) checkEvent(ev *TransactionEvent, done, missing fieldSet, ps *problems) {
	if done&fSchemaVersion == 0 && !checkSchemaVersion(ps, ev.SchemaVersion, TransactionEventSchemaV1) {
		return
	}
	if done&fTransactionID == 0 {
		checkTransactionID(ps, "transaction_id", ev.TransactionID)
	}
	if done&fEventTime == 0 {
		switch t := ev.EventTime; {
		case t.IsZero():
			ps.add("event_time", msgRequired)
		case t.Year() < minEventYear:
			ps.add("event_time", msgBefore2000)
		case t.After(v.now().Add(v.maxFutureSkew())):
			ps.add("event_time", "must not be more than "+v.maxFutureSkew().String()+" in the future")
		}
	}
	if done&fCardToken == 0 && checkString(ps, "card_token", ev.CardToken, true) &&
		utf8.RuneCountInString(ev.CardToken) > MaxCardTokenLen {
		ps.add("card_token", "must be at most 128 characters")
	}
	if done&fAmountMinor == 0 {
		switch {
		case ev.AmountMinor <= 0:
			ps.add("amount_minor", msgPositive)
		case ev.AmountMinor > MaxAmountMinor:
			ps.add("amount_minor", msgAmountMax)
		}
	}
	if done&fCurrency == 0 && checkString(ps, "currency", ev.Currency, true) && !IsCurrency(ev.Currency) {
		ps.add("currency", msgCurrency)
	}
	if done&fMerchantID == 0 && checkString(ps, "merchant_id", ev.MerchantID, true) &&
		utf8.RuneCountInString(ev.MerchantID) > MaxMerchantIDLen {
		ps.add("merchant_id", "must be at most 64 characters")
	}
	if done&fMCC == 0 && checkString(ps, "mcc", ev.MCC, true) && !isMCC(ev.MCC) {
		ps.add("mcc", msgMCC)
	}
	if done&fMerchantCountry == 0 {
		checkCountry(ps, "merchant_country", ev.MerchantCountry, true)
	}
	if done&fChannel == 0 && checkString(ps, "channel", string(ev.Channel), true) && !ev.Channel.Valid() {
		ps.add("channel", msgChannel)
	}
	if done&fCardCountry == 0 {
		checkCountry(ps, "card_country", ev.CardCountry, true)
	}
	if done&fIPCountry == 0 {
		checkCountry(ps, "ip_country", ev.IPCountry, false)
	}
	if done&fDeviceID == 0 && checkString(ps, "device_id", ev.DeviceID, false) &&
		utf8.RuneCountInString(ev.DeviceID) > MaxDeviceIDLen {
		ps.add("device_id", "must be at most 128 characters")
	}
	if done&fAccountAgeDays == 0 {
		switch {
		case missing&fAccountAgeDays != 0:
			ps.add("account_age_days", msgRequired)
		case ev.AccountAgeDays < 0 || ev.AccountAgeDays > MaxAccountAgeDays:
			ps.add("account_age_days", msgAccountAge)
		}
	}
	if a := ev.Aggregates; a != nil && done&fAggregates == 0 {
		if p := a.CardTxnCount1h; p != nil && *p < 0 && done&fAggCardTxnCount1h == 0 {
			ps.add("aggregates.card_txn_count_1h", msgNegative)
		}
		if p := a.CardAmount24hMinor; p != nil && *p < 0 && done&fAggCardAmount24h == 0 {
			ps.add("aggregates.card_amount_24h_minor", msgNegative)
		}
		if p := a.DeviceCardCount24h; p != nil && *p < 0 && done&fAggDeviceCardCount24h == 0 {
			ps.add("aggregates.device_card_count_24h", msgNegative)
		}
	}
}

// Valid reports whether c is one of Channels.
func (c Channel) Valid() bool {
	for _, k := range Channels {
		if c == k {
			return true
		}
	}
	return false
}

// checkString applies the rules shared by every string field: presence and
// no card numbers. It reports whether further format checks should run.
func checkString(ps *problems, path, s string, required bool) bool {
	if s == "" {
		if required {
			ps.add(path, msgRequired)
		}
		return false
	}
	if LooksLikePAN(s) {
		ps.add(path, msgPAN)
		return false
	}
	return true
}

func checkTransactionID(ps *problems, path, s string) {
	if !checkString(ps, path, s, true) {
		return
	}
	if len(s) > MaxTransactionIDLen {
		ps.add(path, "must be at most 64 characters")
		return
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			ps.add(path, msgIDChars)
			return
		}
	}
}

func checkCountry(ps *problems, path, s string, required bool) {
	if checkString(ps, path, s, required) && !IsCountry(s) {
		ps.add(path, msgCountry)
	}
}

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) ||
		c == '.' || c == '_' || c == ':' || c == '-'
}

func isMCC(s string) bool {
	return len(s) == 4 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3])
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func startsObject(data []byte) bool {
	for _, c := range data {
		if !isSpace(c) {
			return c == '{'
		}
	}
	return false
}

// malformedJSON explains why data, which does not start with '{', is
// rejected.
func malformedJSON(data []byte) *ValidationError {
	var x any
	if err := json.Unmarshal(data, &x); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return syntaxProblem(se.Offset)
		}
		return singleProblem(KindMalformed, "", "invalid JSON")
	}
	return singleProblem(KindMalformed, "", msgNotObject)
}

func syntaxProblem(offset int64) *ValidationError {
	return singleProblem(KindMalformed, "", "invalid JSON at byte offset "+strconv.FormatInt(offset, 10))
}

// Event field names in declaration order, for the slow path.
const (
	iSchemaVersion = iota
	iTransactionID
	iEventTime
	iCardToken
	iAmountMinor
	iCurrency
	iMerchantID
	iMCC
	iMerchantCountry
	iChannel
	iCardCountry
	iIPCountry
	iDeviceID
	iAccountAgeDays
	iAggregates
	numEventFields
)

var eventFieldNames = [numEventFields]string{
	"schema_version", "transaction_id", "event_time", "card_token", "amount_minor", "currency",
	"merchant_id", "mcc", "merchant_country", "channel", "card_country", "ip_country", "device_id",
	"account_age_days", "aggregates",
}

const (
	iAggCardTxnCount1h = iota
	iAggCardAmount24h
	iAggDeviceCardCount24h
	iAggNewDevice
	numAggFields
)

var aggFieldNames = [numAggFields]string{
	"card_txn_count_1h", "card_amount_24h_minor", "device_card_count_24h", "new_device",
}

// slowDecodeEvent decodes data, known to be syntactically valid JSON, field by
// field so that every wrong type is reported with its path.
func (v *Validator) slowDecodeEvent(data []byte, ev *TransactionEvent) error {
	*ev = TransactionEvent{}
	var raw [numEventFields]json.RawMessage
	if err := readObject(data, eventFieldNames[:], raw[:]); err != nil {
		return err
	}
	var ps problems
	var done, missing fieldSet
	bit := func(i int) fieldSet { return fSchemaVersion << uint(i) }

	// The version decides the rules, so look at it first.
	if s, ok := rawString(&ps, "schema_version", raw[iSchemaVersion]); !ok {
		done |= fSchemaVersion
	} else if s != "" && s != TransactionEventSchemaV1 {
		return singleProblem(KindInvalid, "schema_version", msgSchemaVersion)
	} else {
		ev.SchemaVersion = s
	}
	strs := [...]struct {
		i   int
		dst *string
	}{
		{iTransactionID, &ev.TransactionID}, {iCardToken, &ev.CardToken}, {iCurrency, &ev.Currency},
		{iMerchantID, &ev.MerchantID}, {iMCC, &ev.MCC}, {iMerchantCountry, &ev.MerchantCountry},
		{iChannel, (*string)(&ev.Channel)}, {iCardCountry, &ev.CardCountry}, {iIPCountry, &ev.IPCountry},
		{iDeviceID, &ev.DeviceID},
	}
	for _, f := range strs {
		s, ok := rawString(&ps, eventFieldNames[f.i], raw[f.i])
		if !ok {
			done |= bit(f.i)
		}
		*f.dst = s
	}
	if t, ok := rawTime(&ps, "event_time", raw[iEventTime]); ok {
		ev.EventTime = t
	} else {
		done |= fEventTime
	}
	if n, ok := rawInt(&ps, "amount_minor", raw[iAmountMinor], 64); ok {
		ev.AmountMinor = n
	} else {
		done |= fAmountMinor
	}
	if isNull(raw[iAccountAgeDays]) {
		missing |= fAccountAgeDays
	} else if n, ok := rawInt(&ps, "account_age_days", raw[iAccountAgeDays], 32); ok {
		ev.AccountAgeDays = int32(n)
	} else {
		done |= fAccountAgeDays
	}
	if r := raw[iAggregates]; !isNull(r) {
		if r[0] != '{' {
			ps.typeErr("aggregates", msgObject)
			done |= fAggregates
		} else {
			var araw [numAggFields]json.RawMessage
			if err := readObject(r, aggFieldNames[:], araw[:]); err != nil {
				return err
			}
			a := &Aggregates{}
			ev.Aggregates = a
			if n, ok := rawInt(&ps, "aggregates.card_txn_count_1h", araw[iAggCardTxnCount1h], 32); !ok {
				done |= fAggCardTxnCount1h
			} else if !isNull(araw[iAggCardTxnCount1h]) {
				n32 := int32(n)
				a.CardTxnCount1h = &n32
			}
			if n, ok := rawInt(&ps, "aggregates.card_amount_24h_minor", araw[iAggCardAmount24h], 64); !ok {
				done |= fAggCardAmount24h
			} else if !isNull(araw[iAggCardAmount24h]) {
				a.CardAmount24hMinor = &n
			}
			if n, ok := rawInt(&ps, "aggregates.device_card_count_24h", araw[iAggDeviceCardCount24h], 32); !ok {
				done |= fAggDeviceCardCount24h
			} else if !isNull(araw[iAggDeviceCardCount24h]) {
				n32 := int32(n)
				a.DeviceCardCount24h = &n32
			}
			if b, ok := rawBool(&ps, "aggregates.new_device", araw[iAggNewDevice]); !ok {
				done |= fAggNewDevice
			} else if !isNull(araw[iAggNewDevice]) {
				a.NewDevice = &b
			}
		}
	}
	v.checkEvent(ev, done, missing, &ps)
	if err := ps.err(); err != nil {
		return err
	}
	// Unreachable in practice: encoding/json rejected the payload, so some
	// problem must exist. Never accept what the fast path refused.
	return singleProblem(KindMalformed, "", "payload could not be decoded")
}

// readObject walks the JSON object in data and stores the raw value of each
// member whose key matches names (exactly, else case-insensitively, like
// encoding/json) into slots; later duplicates win. Absent members stay nil.
func readObject(data []byte, names []string, slots []json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return syntaxProblem(dec.InputOffset())
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return singleProblem(KindMalformed, "", msgNotObject)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxProblem(dec.InputOffset())
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return syntaxProblem(dec.InputOffset())
		}
		if i := matchName(names, key); i >= 0 {
			slots[i] = raw
		}
	}
	return nil
}

func matchName(names []string, key string) int {
	for i, n := range names {
		if n == key {
			return i
		}
	}
	for i, n := range names {
		if strings.EqualFold(n, key) {
			return i
		}
	}
	return -1
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// rawString decodes a JSON string; null or absent yields "". ok is false
// after reporting a type problem.
func rawString(ps *problems, path string, raw json.RawMessage) (s string, ok bool) {
	if isNull(raw) {
		return "", true
	}
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		ps.typeErr(path, msgString)
		return "", false
	}
	return s, true
}

func rawTime(ps *problems, path string, raw json.RawMessage) (time.Time, bool) {
	s, ok := rawString(ps, path, raw)
	if !ok || s == "" {
		return time.Time{}, ok
	}
	var t time.Time
	if err := t.UnmarshalText([]byte(s)); err != nil {
		ps.add(path, msgTimestamp)
		return time.Time{}, false
	}
	return t, true
}

// rawInt decodes a JSON integer of the given bit size; null or absent yields
// 0. Fractions, exponents and integers beyond the bit size are type problems.
func rawInt(ps *problems, path string, raw json.RawMessage, bits int) (int64, bool) {
	if isNull(raw) {
		return 0, true
	}
	if raw[0] != '-' && !isDigit(raw[0]) {
		ps.typeErr(path, msgInteger)
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, bits)
	if err == nil {
		return n, true
	}
	if errors.Is(err, strconv.ErrRange) {
		// Beyond the field's Go type: a number outside its type is
		// malformed, like a fraction (docs/contracts.md, strict input).
		if bits == 32 {
			ps.typeErr(path, msgInt32Range)
		} else {
			ps.typeErr(path, msgInt64Range)
		}
		return 0, false
	}
	ps.typeErr(path, msgInteger) // 1.5, 1e3
	return 0, false
}

func rawBool(ps *problems, path string, raw json.RawMessage) (bool, bool) {
	switch string(raw) {
	case "", "null", "false":
		return false, true
	case "true":
		return true, true
	}
	ps.typeErr(path, msgBool)
	return false, false
}

func rawFloat(ps *problems, path string, raw json.RawMessage) (float64, bool) {
	if isNull(raw) {
		return 0, true
	}
	if raw[0] != '-' && !isDigit(raw[0]) {
		ps.typeErr(path, msgNumber)
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		ps.add(path, msgScore)
		return 0, false
	}
	return f, true
}
