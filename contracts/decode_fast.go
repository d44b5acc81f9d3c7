package contracts

import (
	"math"
	"strings"
	"unicode/utf8"
)

// The fast path of DecodeEvent: a hand-written single-pass parser for the
// canonical shape of a TransactionEvent. It accepts a strict subset of what
// encoding/json accepts and, for that subset, produces exactly what
// json.Unmarshal would (FuzzDecodeEventDifferential checks this). Anything
// outside the subset makes it report false, and DecodeEvent then decodes the
// payload with encoding/json as before, so errors and dead-letter texts are
// unchanged. The subset lies within the strict rules (strict.go): anything
// that might break one of them falls back, and checkStrict then reports it.
// The subset:
//
//   - one JSON object, with JSON whitespace anywhere JSON allows it and
//     nothing but whitespace after it;
//   - keys without escapes and with valid UTF-8; a key that matches a field
//     only case-insensitively, or that has non-ASCII bytes (encoding/json
//     folds some non-ASCII letters onto ASCII ones), is not in the subset;
//   - no key twice in one object; at most maxFastKeys unknown keys in one
//     object;
//   - string fields: strings without escapes and with valid UTF-8 (so
//     encoding/json would copy their bytes verbatim), or null;
//   - event_time: such a string, given to time.Time.UnmarshalJSON exactly
//     as encoding/json gives it (quotes included), which must accept it; or
//     null;
//   - integer fields: -?(0|[1-9][0-9]*) in the range of the field's Go type
//     (no fraction, no exponent), or null;
//   - aggregates: null, or an object under the same rules whose new_device
//     is true, false or null;
//   - unknown keys: any syntactically valid JSON value within
//     MaxNestingDepth whose strings hold valid UTF-8 and no surrogate
//     escapes and whose numbers are clearly within the range of a float64,
//     skipped.

// maxFastKeys is how many unknown keys of one object the fast path
// remembers to find duplicates; objects with more fall back.
const maxFastKeys = 8

// keySet holds the unknown keys of one object (spans of the payload, keys
// without escapes) to find duplicates without allocating.
type keySet struct {
	keys [maxFastKeys]struct{ start, end int }
	n    int
}

// add reports whether data[start:end] is a key not seen before and there
// was room to remember it.
func (k *keySet) add(data []byte, start, end int) bool {
	if k.n == maxFastKeys {
		return false
	}
	key := data[start:end]
	for _, o := range k.keys[:k.n] {
		if string(data[o.start:o.end]) == string(key) {
			return false
		}
	}
	k.keys[k.n].start, k.keys[k.n].end = start, end
	k.n++
	return true
}

// fastParser is a cursor over a payload.
type fastParser struct {
	data []byte
	pos  int
}

// span locates the content of a JSON string (without its quotes) in the
// payload; ok is false for an absent or null field.
type span struct {
	start, end int
	ok         bool
}

// aggStorage holds a fresh Aggregates and its values in one allocation.
type aggStorage struct {
	agg      Aggregates
	txn, dev int32
	amt      int64
	newDev   bool
}

// aggReuse hands out storage for aggregate values: the previous event's,
// when it had them, else one lazily allocated aggStorage.
type aggReuse struct {
	txn, dev *int32
	amt      *int64
	newDev   *bool
	st       *aggStorage
}

func (r *aggReuse) storage() *aggStorage {
	if r.st == nil {
		r.st = new(aggStorage)
	}
	return r.st
}

// fastDecodeEvent decodes data into ev, which must be the zero
// TransactionEvent except for AccountAgeDays == missingInt32, and reports
// whether it did so exactly as json.Unmarshal(data, ev) would have, with a
// nil error. prev is the Aggregates of the event ev held before it was reset;
// its storage is reused. On false, ev and *prev hold garbage and the caller
// must reset ev.
func fastDecodeEvent(data []byte, ev *TransactionEvent, prev *Aggregates) bool {
	p := fastParser{data: data}
	var strs [numEventFields]span
	var seen uint32
	var unknown keySet
	p.skipWS()
	if p.peek() != '{' {
		return false
	}
	p.pos++
	p.skipWS()
	if p.peek() == '}' {
		p.pos++
	} else {
		for {
			p.skipWS()
			ks, ke, ok := p.plainString()
			if !ok {
				return false
			}
			i := eventFieldIndex(data[ks:ke])
			if !p.colon() {
				return false
			}
			switch {
			case i == fieldFolded:
				return false
			case i == fieldUnknown:
				if !unknown.add(data, ks, ke) || !p.skipValue(1) {
					return false
				}
			default:
				if seen&(1<<uint(i)) != 0 {
					return false
				}
				seen |= 1 << uint(i)
				if !p.eventValue(i, ev, prev, &strs) {
					return false
				}
			}
			if done, ok := p.endOfMember('}'); !ok {
				return false
			} else if done {
				break
			}
		}
	}
	p.skipWS()
	if p.pos != len(data) {
		return false
	}
	p.assignStrings(ev, &strs)
	return true
}

// eventValue decodes the value of event field i.
func (p *fastParser) eventValue(i int, ev *TransactionEvent, prev *Aggregates, strs *[numEventFields]span) bool {
	if p.literal("null") {
		// encoding/json leaves strings, integers and time.Time unchanged
		// on null (time.Time.UnmarshalJSON ignores "null") and sets
		// pointers to nil: all of them are zero already.
		return true
	}
	switch i {
	case iEventTime:
		s, e, ok := p.plainString()
		return ok && ev.EventTime.UnmarshalJSON(p.data[s-1:e+1]) == nil
	case iAmountMinor:
		n, ok := p.integer(math.MinInt64, math.MaxInt64)
		ev.AmountMinor = n
		return ok
	case iAccountAgeDays:
		n, ok := p.integer(math.MinInt32, math.MaxInt32)
		ev.AccountAgeDays = int32(n)
		return ok
	case iAggregates:
		return p.peek() == '{' && p.aggregates(ev, prev)
	default:
		s, e, ok := p.plainString()
		strs[i] = span{start: s, end: e, ok: ok}
		return ok
	}
}

// aggregates decodes the aggregates object at p.pos into ev.Aggregates,
// reusing prev and the values it points to.
func (p *fastParser) aggregates(ev *TransactionEvent, prev *Aggregates) bool {
	var r aggReuse
	a := prev
	if a != nil {
		r.txn, r.amt, r.dev, r.newDev = a.CardTxnCount1h, a.CardAmount24hMinor, a.DeviceCardCount24h, a.NewDevice
		if r.txn == r.dev {
			r.dev = nil // the caller made them alias: do not write both into one int32
		}
		*a = Aggregates{}
	} else {
		a = &r.storage().agg
	}
	ev.Aggregates = a
	p.pos++ // '{'
	p.skipWS()
	if p.peek() == '}' {
		p.pos++
		return true
	}
	var seen uint32
	var unknown keySet
	for {
		p.skipWS()
		ks, ke, ok := p.plainString()
		if !ok {
			return false
		}
		i := aggFieldIndex(p.data[ks:ke])
		if !p.colon() {
			return false
		}
		switch {
		case i == fieldFolded:
			return false
		case i == fieldUnknown:
			if !unknown.add(p.data, ks, ke) || !p.skipValue(2) {
				return false
			}
		default:
			if seen&(1<<uint(i)) != 0 {
				return false
			}
			seen |= 1 << uint(i)
			if !p.aggValue(i, a, &r) {
				return false
			}
		}
		if done, ok := p.endOfMember('}'); !ok {
			return false
		} else if done {
			return true
		}
	}
}

// aggValue decodes the value of aggregates field i into a.
func (p *fastParser) aggValue(i int, a *Aggregates, r *aggReuse) bool {
	if p.literal("null") {
		return true // the pointer stays nil
	}
	switch i {
	case iAggCardTxnCount1h:
		n, ok := p.integer(math.MinInt32, math.MaxInt32)
		if !ok {
			return false
		}
		v := r.txn
		if v == nil {
			v = &r.storage().txn
		}
		*v = int32(n)
		a.CardTxnCount1h = v
	case iAggCardAmount24h:
		n, ok := p.integer(math.MinInt64, math.MaxInt64)
		if !ok {
			return false
		}
		v := r.amt
		if v == nil {
			v = &r.storage().amt
		}
		*v = n
		a.CardAmount24hMinor = v
	case iAggDeviceCardCount24h:
		n, ok := p.integer(math.MinInt32, math.MaxInt32)
		if !ok {
			return false
		}
		v := r.dev
		if v == nil {
			v = &r.storage().dev
		}
		*v = int32(n)
		a.DeviceCardCount24h = v
	case iAggNewDevice:
		var b bool
		switch {
		case p.literal("true"):
			b = true
		case p.literal("false"):
		default:
			return false
		}
		v := r.newDev
		if v == nil {
			v = &r.storage().newDev
		}
		*v = b
		a.NewDevice = v
	default:
		return false
	}
	return true
}

// assignStrings sets the string fields recorded in strs. Fixed vocabularies
// (schema version, currencies, countries, channels) become constant strings;
// every other value is copied into one shared allocation, so the strings
// never alias the payload.
func (p *fastParser) assignStrings(ev *TransactionEvent, strs *[numEventFields]span) {
	var copied uint32
	total := 0
	for i := range strs {
		sp := strs[i]
		if !sp.ok || sp.start == sp.end {
			continue
		}
		b := p.data[sp.start:sp.end]
		if s, ok := internValue(i, b); ok {
			*stringField(ev, i) = s
			continue
		}
		copied |= 1 << uint(i)
		total += len(b)
	}
	if copied == 0 {
		return
	}
	var sb strings.Builder
	sb.Grow(total)
	for i := range strs {
		if copied&(1<<uint(i)) != 0 {
			sb.Write(p.data[strs[i].start:strs[i].end])
		}
	}
	all := sb.String()
	off := 0
	for i := range strs {
		if copied&(1<<uint(i)) != 0 {
			n := strs[i].end - strs[i].start
			*stringField(ev, i) = all[off : off+n]
			off += n
		}
	}
}

// stringField returns the string field with index i (one of the string
// fields: eventValue only records spans for those).
func stringField(ev *TransactionEvent, i int) *string {
	switch i {
	case iSchemaVersion:
		return &ev.SchemaVersion
	case iTransactionID:
		return &ev.TransactionID
	case iCardToken:
		return &ev.CardToken
	case iCurrency:
		return &ev.Currency
	case iMerchantID:
		return &ev.MerchantID
	case iMCC:
		return &ev.MCC
	case iMerchantCountry:
		return &ev.MerchantCountry
	case iChannel:
		return (*string)(&ev.Channel)
	case iCardCountry:
		return &ev.CardCountry
	case iIPCountry:
		return &ev.IPCountry
	default: // iDeviceID
		return &ev.DeviceID
	}
}

// internValue returns a constant string equal to b for the fixed
// vocabularies of field i.
func internValue(i int, b []byte) (string, bool) {
	switch i {
	case iSchemaVersion:
		if string(b) == TransactionEventSchemaV1 {
			return TransactionEventSchemaV1, true
		}
	case iCurrency:
		return tableEntry(currencyTable, 3, b)
	case iMerchantCountry, iCardCountry, iIPCountry:
		return tableEntry(countryTable, 2, b)
	case iChannel:
		switch string(b) {
		case string(ChannelCardPresent):
			return string(ChannelCardPresent), true
		case string(ChannelECommerce):
			return string(ChannelECommerce), true
		case string(ChannelATM):
			return string(ChannelATM), true
		case string(ChannelMOTO):
			return string(ChannelMOTO), true
		case string(ChannelContactless):
			return string(ChannelContactless), true
		case string(ChannelRecurring):
			return string(ChannelRecurring), true
		}
	}
	return "", false
}

// tableEntry returns the entry of a code table (see inTable) equal to code.
func tableEntry(table string, width int, code []byte) (string, bool) {
	if len(code) != width {
		return "", false
	}
	lo, hi := 0, len(table)/width
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		entry := table[mid*width : mid*width+width]
		switch {
		case entry == string(code):
			return entry, true
		case entry < string(code):
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return "", false
}

// Results of eventFieldIndex and aggFieldIndex besides a field index.
const (
	fieldUnknown = -1 // no field: encoding/json ignores the member
	fieldFolded  = -2 // only encoding/json knows which field, if any
)

// eventFieldIndex returns the index of the event field named exactly key.
// key holds no escapes.
func eventFieldIndex(key []byte) int {
	switch string(key) {
	case "schema_version":
		return iSchemaVersion
	case "transaction_id":
		return iTransactionID
	case "event_time":
		return iEventTime
	case "card_token":
		return iCardToken
	case "amount_minor":
		return iAmountMinor
	case "currency":
		return iCurrency
	case "merchant_id":
		return iMerchantID
	case "mcc":
		return iMCC
	case "merchant_country":
		return iMerchantCountry
	case "channel":
		return iChannel
	case "card_country":
		return iCardCountry
	case "ip_country":
		return iIPCountry
	case "device_id":
		return iDeviceID
	case "account_age_days":
		return iAccountAgeDays
	case "aggregates":
		return iAggregates
	}
	return otherKey(eventFieldNames[:], key)
}

// aggFieldIndex is eventFieldIndex for the members of aggregates.
func aggFieldIndex(key []byte) int {
	switch string(key) {
	case "card_txn_count_1h":
		return iAggCardTxnCount1h
	case "card_amount_24h_minor":
		return iAggCardAmount24h
	case "device_card_count_24h":
		return iAggDeviceCardCount24h
	case "new_device":
		return iAggNewDevice
	}
	return otherKey(aggFieldNames[:], key)
}

// otherKey classifies a key that names no field exactly: encoding/json also
// matches keys case-insensitively (ASCII letters, and non-ASCII letters
// whose upper case is ASCII, such as U+017F).
func otherKey(names []string, key []byte) int {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return fieldFolded
		}
	}
	for _, n := range names {
		if asciiEqualFold(n, key) {
			return fieldFolded
		}
	}
	return fieldUnknown
}

func asciiEqualFold(a string, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if upperASCII(a[i]) != upperASCII(b[i]) {
			return false
		}
	}
	return true
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func (p *fastParser) skipWS() {
	for p.pos < len(p.data) && isSpace(p.data[p.pos]) {
		p.pos++
	}
}

// peek returns the byte at the cursor, or 0 (never valid there) at the end.
func (p *fastParser) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

// colon consumes the ':' after a key and the whitespace around it.
func (p *fastParser) colon() bool {
	p.skipWS()
	if p.peek() != ':' {
		return false
	}
	p.pos++
	p.skipWS()
	return true
}

// endOfMember consumes what follows a member's value: ',' (done false) or
// the closing delimiter (done true); anything else is not ok.
func (p *fastParser) endOfMember(closing byte) (done, ok bool) {
	p.skipWS()
	switch p.peek() {
	case ',':
		p.pos++
		return false, true
	case closing:
		p.pos++
		return true, true
	}
	return false, false
}

// literal consumes lit if the input continues with it. The caller's next
// structural check rejects a literal run on into other characters.
func (p *fastParser) literal(lit string) bool {
	if len(p.data)-p.pos >= len(lit) && string(p.data[p.pos:p.pos+len(lit)]) == lit {
		p.pos += len(lit)
		return true
	}
	return false
}

// plainString consumes a JSON string without escapes whose content is valid
// UTF-8 and returns the bounds of its content.
func (p *fastParser) plainString() (start, end int, ok bool) {
	if p.peek() != '"' {
		return 0, 0, false
	}
	start = p.pos + 1
	ascii := true
	for i := start; i < len(p.data); i++ {
		switch c := p.data[i]; {
		case c == '"':
			if !ascii && !utf8.Valid(p.data[start:i]) {
				return 0, 0, false
			}
			p.pos = i + 1
			return start, i, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return 0, 0, false
}

// integer consumes a JSON number that is an integer literal within
// [lo, hi] (lo == -hi-1).
func (p *fastParser) integer(lo, hi int64) (int64, bool) {
	d, i := p.data, p.pos
	neg := i < len(d) && d[i] == '-'
	if neg {
		i++
	}
	first := i
	var n uint64
	for i < len(d) && isDigit(d[i]) {
		if i-first == 19 {
			return 0, false // beyond any int64
		}
		n = n*10 + uint64(d[i]-'0')
		i++
	}
	if i == first || i-first > 1 && d[first] == '0' {
		return 0, false
	}
	if i < len(d) && (d[i] == '.' || d[i] == 'e' || d[i] == 'E') {
		return 0, false
	}
	var v int64
	if neg {
		if n > uint64(-(lo+1))+1 {
			return 0, false
		}
		v = int64(-n) // two's complement: -(1<<63) included
	} else {
		if n > uint64(hi) {
			return 0, false
		}
		v = int64(n)
	}
	p.pos = i
	return v, true
}

// skipValue consumes a JSON value in the subset; depth is the number of
// containers around it.
func (p *fastParser) skipValue(depth int) bool {
	switch c := p.peek(); {
	case c == '"':
		return p.skipString()
	case c == '{' || c == '[':
		return depth < MaxNestingDepth && p.skipContainer(depth+1)
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || isDigit(c):
		return p.skipNumber()
	}
	return false
}

// skipContainer consumes an object or array.
func (p *fastParser) skipContainer(depth int) bool {
	obj := p.data[p.pos] == '{'
	closing := byte(']')
	if obj {
		closing = '}'
	}
	p.pos++
	p.skipWS()
	if p.peek() == closing {
		p.pos++
		return true
	}
	var keys keySet
	for {
		p.skipWS()
		if obj {
			ks, ke, ok := p.plainString()
			if !ok || !keys.add(p.data, ks, ke) || !p.colon() {
				return false
			}
		}
		if !p.skipValue(depth) {
			return false
		}
		if done, ok := p.endOfMember(closing); !ok {
			return false
		} else if done {
			return true
		}
	}
}

// skipString consumes a JSON string with valid UTF-8 and without surrogate
// escapes.
func (p *fastParser) skipString() bool {
	if p.peek() != '"' {
		return false
	}
	d := p.data
	start, ascii := p.pos+1, true
	for i := start; i < len(d); {
		switch c := d[i]; {
		case c == '"':
			if !ascii && !utf8.Valid(d[start:i]) {
				return false
			}
			p.pos = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 >= len(d) {
				return false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(d)-(i+2) < 4 {
					return false
				}
				r, ok := hex4(d[i+2:])
				if !ok || 0xd800 <= r && r <= 0xdfff {
					return false
				}
				i += 6
			default:
				return false
			}
		case c >= utf8.RuneSelf:
			ascii = false
			i++
		default:
			i++
		}
	}
	return false
}

// skipNumber consumes a JSON number below 1e308 in magnitude by its digit
// count and exponent (so within the range of a float64).
func (p *fastParser) skipNumber() bool {
	n, ok := scanNumber(p.data, p.pos)
	if !ok || n.magnitude() > 308 {
		return false // malformed, or perhaps beyond a float64: checkStrict decides
	}
	p.pos = n.end
	return true
}

// jsonNumber is the shape of a JSON number scanned by scanNumber.
type jsonNumber struct {
	start, end int  // its bytes: data[start:end]
	intDigits  int  // digits before the fraction
	exp        int  // the exponent's value (0 without one), capped near ±1000
	hasExp     bool // it has an exponent part
}

// magnitude bounds the number: its absolute value is below 10^magnitude.
func (n jsonNumber) magnitude() int { return n.intDigits + n.exp }

// scanNumber scans the JSON number (RFC 8259 grammar) that starts at
// data[i]; ok is false when none does. The fast path and the strict check
// share it, so they agree on what a number is.
func scanNumber(d []byte, i int) (n jsonNumber, ok bool) {
	n.start = i
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := i
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return n, false
	}
	n.intDigits = i - digits
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return n, false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		n.hasExp = true
		i++
		neg := false
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			neg = d[i] == '-'
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return n, false
		}
		for i < len(d) && isDigit(d[i]) {
			if n.exp < 1000 {
				n.exp = n.exp*10 + int(d[i]-'0')
			}
			i++
		}
		if neg {
			n.exp = -n.exp
		}
	}
	n.end = i
	return n, true
}
