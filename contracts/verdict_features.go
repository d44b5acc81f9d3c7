package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// MaxVerdictFeatures is the most entries Verdict.Features may hold.
const MaxVerdictFeatures = 256

// FeatureValue is one feature the deciding model saw: an entry of
// Verdict.Features.
type FeatureValue struct {
	// Name is the model feature's name (its metadata name, 1 to 128
	// characters), e.g. card_txn_count_1h.
	Name string
	// Value is the value the model saw; NaN when the input was missing,
	// written as JSON null.
	Value float64
}

// FeatureValues are the feature values the deciding model saw, in its
// feature order (Verdict.Features). Their JSON form is an object whose
// members keep that order: {"log_amount": 3.1, "card_txn_count_1h": null}.
type FeatureValues []FeatureValue

// Get returns the value of the feature named name and whether it is
// present (a present value may be NaN: the input was missing).
func (fs FeatureValues) Get(name string) (float64, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f.Value, true
		}
	}
	return 0, false
}

// MarshalJSON encodes fs as Verdict.AppendJSON does: an object in fs's
// order, a missing value (NaN) as null; nil encodes as null.
func (fs FeatureValues) MarshalJSON() ([]byte, error) {
	if fs == nil {
		return []byte("null"), nil
	}
	for _, f := range fs {
		if math.IsInf(f.Value, 0) {
			return nil, errors.New("contracts: feature values: a value must be finite or NaN")
		}
	}
	return fs.appendJSON(nil), nil
}

// UnmarshalJSON decodes an object of numbers and nulls into fs, in the
// object's order; null decodes as NaN, a null object as nil, an empty one
// as an empty fs. The contract rules (ValidateVerdict) are not checked.
func (fs *FeatureValues) UnmarshalJSON(data []byte) error {
	var ps problems
	decodeFeatures(data, fs, &ps)
	return ps.err()
}

// appendJSON appends the JSON object of fs.
func (fs FeatureValues) appendJSON(buf []byte) []byte {
	buf = append(buf, '{')
	for i := range fs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, fs[i].Name)
		buf = append(buf, ':')
		buf = appendFeatureValue(buf, fs[i].Value)
	}
	return append(buf, '}')
}

// appendFeatureValue appends v as appendScore does (strconv 'g', shortest;
// null when not finite), integers below 1e6 in magnitude, which most
// features are (counts, flags, codes, hours), by the faster AppendInt:
// 'g' writes them the same (its exponent form starts at 1e6; -0 is left
// to it).
func appendFeatureValue(buf []byte, v float64) []byte {
	if v > -1e6 && v < 1e6 && v == math.Trunc(v) && (v != 0 || !math.Signbit(v)) {
		return strconv.AppendInt(buf, int64(v), 10)
	}
	return appendScore(buf, v)
}

// featurePath is the problem path of Verdict.Features entry i (the i-th
// member of the object; a name is not echoed, it may hold anything).
func featurePath(i int) string { return "features[" + strconv.Itoa(i) + "]" }

// decodeFeatures decodes the features object data into fs (reusing its
// backing array), reporting type problems; it reports false when there was
// one.
func decodeFeatures(data []byte, fs *FeatureValues, ps *problems) bool {
	if isNull(data) {
		*fs = nil
		return true
	}
	*fs = (*fs)[:0]
	if data[0] != '{' {
		ps.typeErr("features", msgObject)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		ps.typeErr("features", msgObject)
		return false
	}
	ok := true
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		name, isName := tok.(string)
		var raw json.RawMessage
		if err != nil || !isName || dec.Decode(&raw) != nil {
			ps.typeErr("features", msgObject)
			return false
		}
		f := FeatureValue{Name: name, Value: math.NaN()}
		if !isNull(raw) {
			v, good := rawNumber(ps, featurePath(i), raw)
			ok = ok && good
			f.Value = v
		}
		*fs = append(*fs, f)
	}
	return ok
}

// checkFeatures checks vd.Features: at most MaxVerdictFeatures entries,
// names of 1 to 128 characters that do not repeat (a rule JSON Schema
// cannot state: JSON objects may repeat a name), values finite or missing
// (NaN).
func checkFeatures(vd *Verdict, ps *problems) {
	fs := vd.Features
	if len(fs) > MaxVerdictFeatures {
		ps.add("features", "must have at most "+strconv.Itoa(MaxVerdictFeatures)+" entries")
		return
	}
	for i := range fs {
		path := featurePath(i)
		if checkString(ps, path, fs[i].Name, true) && utf8.RuneCountInString(fs[i].Name) > MaxVersionLen {
			ps.add(path, "name must be at most 128 characters")
		}
		for j := range i {
			if fs[j].Name == fs[i].Name && fs[i].Name != "" {
				ps.add(path, "repeats the name of "+featurePath(j))
				break
			}
		}
		if math.IsInf(fs[i].Value, 0) {
			ps.add(path, "must be a finite number or null")
		}
	}
}
