package contracts_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// typicalEvent is an e-commerce event with every optional field and all
// aggregates (about 500 bytes).
func typicalEvent(b *testing.B) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", "events", "valid", "ecommerce_full.json"))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkDecodeEvent(b *testing.B) {
	data := typicalEvent(b)
	v := testValidator()
	var ev contracts.TransactionEvent
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.DecodeEvent(data, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEventStdlibOnly is the baseline: encoding/json alone,
// without validation.
func BenchmarkDecodeEventStdlibOnly(b *testing.B) {
	data := typicalEvent(b)
	var ev contracts.TransactionEvent
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ev = contracts.TransactionEvent{}
		if err := json.Unmarshal(data, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEventWrongTypes measures the slow path taken for payloads
// with JSON type errors (dead letters, not the hot path).
func BenchmarkDecodeEventWrongTypes(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "events", "invalid", "wrong_types.json"))
	if err != nil {
		b.Fatal(err)
	}
	v := testValidator()
	var ev contracts.TransactionEvent
	b.ReportAllocs()
	for b.Loop() {
		if err := v.DecodeEvent(data, &ev); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkJSONSchemaValidateEvent is the rejected alternative: validating
// each payload with the JSON Schema at runtime (parse + validate).
func BenchmarkJSONSchemaValidateEvent(b *testing.B) {
	data := typicalEvent(b)
	sch := compileSchema(b, contracts.SchemaFileTransactionEventV1)
	b.ReportAllocs()
	for b.Loop() {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendVerdictJSON(b *testing.B) {
	vd := typicalVerdict()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = vd.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkMarshalVerdictStdlib is the baseline: json.Marshal.
func BenchmarkMarshalVerdictStdlib(b *testing.B) {
	vd := typicalVerdict()
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := json.Marshal(&vd)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}
