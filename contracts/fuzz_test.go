package contracts_test

import (
	"encoding/json"
	"errors"
	"math"
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

// FuzzDecodeVerdict: a verdict DecodeVerdict accepts passes ValidateVerdict
// and survives AppendJSON and DecodeVerdict again unchanged (reason details
// and features with a missing value included); a refused one gets a
// *ValidationError with problems.
func FuzzDecodeVerdict(f *testing.F) {
	vd := reasonVerdict()
	f.Add(vd.AppendJSON(nil))
	vd.Shadow = []contracts.ShadowResult{{ModelVersion: "m2", PolicyVersion: "p", Score: 0.5, Decision: contracts.DecisionReview}}
	f.Add(vd.AppendJSON(nil))
	f.Add([]byte(`{"schema_version":"verdict.v1","transaction_id":"t","decision":"decline","score":0.9,"model_version":"m","policy_version":"p","reasons":["A"],"reason_details":[{"code":"a","feature":1,"value":"x"}],"scored_at":"2025-06-01T12:00:00Z","scoring_us":0}`))
	f.Add([]byte(`{"reasons":["A"],"reason_details":[null,{},[]]}`))
	vd.Features = contracts.FeatureValues{{Name: "log_amount", Value: 3.1}, {Name: "card_txn_count_1h", Value: math.NaN()}}
	f.Add(vd.AppendJSON(nil))
	f.Add([]byte(`{"schema_version":"verdict.v1","transaction_id":"t","decision":"approve","score":0,"model_version":"m","policy_version":"p","reasons":[],"features":{"a":1,"a":null,"b":"x","":1e999},"scored_at":"2025-06-01T12:00:00Z","scoring_us":0}`))
	v := contracts.NewValidator()
	f.Fuzz(func(t *testing.T, data []byte) {
		var vd contracts.Verdict
		err := contracts.DecodeVerdict(data, &vd)
		if err != nil {
			var ve *contracts.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error %T without problems: %v", err, err)
			}
			return
		}
		if verr := v.ValidateVerdict(&vd); verr != nil {
			t.Fatalf("decoded verdict fails ValidateVerdict: %v", verr)
		}
		out := vd.AppendJSON(nil)
		var again contracts.Verdict
		if derr := contracts.DecodeVerdict(out, &again); derr != nil {
			t.Fatalf("re-encoded verdict %s rejected: %v", out, derr)
		}
		if out2 := again.AppendJSON(nil); string(out) != string(out2) {
			t.Fatalf("round trip changed the verdict:\n%s\n%s", out, out2)
		}
	})
}
