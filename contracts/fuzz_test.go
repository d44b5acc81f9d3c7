package contracts_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/fraudscore/fraudscore/contracts"
)

func FuzzDecodeEvent(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		for _, ex := range readExamples(f, dir) {
			f.Add(ex.data)
		}
	}
	f.Add(minimalEvent())
	f.Add([]byte(`{"aggregates":{"new_device":"x"},"amount_minor":1e999}`))
	v := testValidator()
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev contracts.TransactionEvent
		err := v.DecodeEvent(data, &ev)
		if err == nil {
			if verr := v.ValidateEvent(&ev); verr != nil {
				t.Fatalf("decoded event fails ValidateEvent: %v", verr)
			}
			out, merr := json.Marshal(&ev)
			if merr != nil {
				t.Fatalf("re-marshal: %v", merr)
			}
			var again contracts.TransactionEvent
			if derr := v.DecodeEvent(out, &again); derr != nil {
				t.Fatalf("re-marshalled event %s rejected: %v", out, derr)
			}
			out2, _ := json.Marshal(&again)
			if string(out) != string(out2) {
				t.Fatalf("round trip changed the event:\n%s\n%s", out, out2)
			}
			return
		}
		var ve *contracts.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %T is not a *ValidationError: %v", err, err)
		}
		if len(ve.Problems) == 0 {
			t.Fatalf("ValidationError without problems")
		}
		sentinel := map[contracts.Kind]error{
			contracts.KindMalformed: contracts.ErrMalformed,
			contracts.KindInvalid:   contracts.ErrInvalid,
			contracts.KindTooLarge:  contracts.ErrTooLarge,
		}[ve.Kind]
		if sentinel == nil || !errors.Is(err, sentinel) {
			t.Fatalf("unexpected kind %q", ve.Kind)
		}
		if contracts.LooksLikePAN(err.Error()) {
			t.Fatalf("error text contains something that looks like a PAN: %s", err)
		}
	})
}
