package contracts_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
)

var labelNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func labelValidator() *contracts.Validator {
	return &contracts.Validator{Now: func() time.Time { return labelNow }}
}

const validLabel = `{"schema_version":"label.v1","transaction_id":"txn_1","label":"fraud","source":"chargeback","reported_at":"2026-02-01T10:00:00Z","reason_code":"10.4","analyst_id":"a-17"}`

// labelCases are payloads with the kind of error they must give and the path
// of the first problem; kind "" means valid.
var labelCases = []struct {
	name, data string
	kind       contracts.Kind
	path       string
}{
	{"full", validLabel, "", ""},
	{"minimal", `{"schema_version":"label.v1","transaction_id":"t","label":"legit","source":"review","reported_at":"2026-02-01T10:00:00.5+01:00"}`, "", ""},
	{"unknown field ignored", `{"schema_version":"label.v1","transaction_id":"t","label":"legit","source":"review","reported_at":"2026-02-01T10:00:00Z","x":1}`, "", ""},
	{"not json", `{"schema_version":`, contracts.KindMalformed, ""},
	{"array", `[]`, contracts.KindMalformed, ""},
	{"label number", `{"schema_version":"label.v1","transaction_id":"t","label":1,"source":"review","reported_at":"2026-02-01T10:00:00Z"}`, contracts.KindMalformed, "label"},
	{"missing everything", `{"schema_version":"label.v1"}`, contracts.KindInvalid, "transaction_id"},
	{"unknown version", `{"schema_version":"label.v2","transaction_id":"t"}`, contracts.KindInvalid, "schema_version"},
	{"bad outcome", `{"schema_version":"label.v1","transaction_id":"t","label":"maybe","source":"review","reported_at":"2026-02-01T10:00:00Z"}`, contracts.KindInvalid, "label"},
	{"bad source", `{"schema_version":"label.v1","transaction_id":"t","label":"fraud","source":"Charge.back","reported_at":"2026-02-01T10:00:00Z"}`, contracts.KindInvalid, "source"},
	{"bad id", `{"schema_version":"label.v1","transaction_id":"t 1","label":"fraud","source":"review","reported_at":"2026-02-01T10:00:00Z"}`, contracts.KindInvalid, "transaction_id"},
	{"bad time", `{"schema_version":"label.v1","transaction_id":"t","label":"fraud","source":"review","reported_at":"yesterday"}`, contracts.KindInvalid, "reported_at"},
	{"before 2000", `{"schema_version":"label.v1","transaction_id":"t","label":"fraud","source":"review","reported_at":"1999-12-31T23:59:59Z"}`, contracts.KindInvalid, "reported_at"},
	{"future", `{"schema_version":"label.v1","transaction_id":"t","label":"fraud","source":"review","reported_at":"2026-03-02T12:00:00Z"}`, contracts.KindInvalid, "reported_at"},
	{"card number in analyst id", `{"schema_version":"label.v1","transaction_id":"t","label":"fraud","source":"review","reported_at":"2026-02-01T10:00:00Z","analyst_id":"4111111111111111"}`, contracts.KindInvalid, "analyst_id"},
	{"card number as id", `{"schema_version":"label.v1","transaction_id":"4111111111111111","label":"fraud","source":"review","reported_at":"2026-02-01T10:00:00Z"}`, contracts.KindInvalid, "transaction_id"},
	{"long reason code", `{"schema_version":"label.v1","transaction_id":"t","label":"fraud","source":"review","reported_at":"2026-02-01T10:00:00Z","reason_code":"` + strings.Repeat("x", 65) + `"}`, contracts.KindInvalid, "reason_code"},
	{"too large", `{"schema_version":"label.v1","pad":"` + strings.Repeat("x", contracts.DefaultMaxLabelBytes) + `"}`, contracts.KindTooLarge, ""},
}

func TestDecodeLabel(t *testing.T) {
	v := labelValidator()
	for _, c := range labelCases {
		t.Run(c.name, func(t *testing.T) {
			var lb contracts.Label
			err := v.DecodeLabel([]byte(c.data), &lb)
			if c.kind == "" {
				require.NoError(t, err)
				assert.NoError(t, v.ValidateLabel(&lb), "a decoded label validates")
				return
			}
			var ve *contracts.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			assert.Equal(t, c.kind, ve.Kind, "%v", err)
			assert.Equal(t, c.path, ve.Problems[0].Path, "%v", err)
			assert.NotContains(t, err.Error(), "4111111111111111", "no card number in the error")
		})
	}
}

// TestLabelSchemaAgreesWithGo: every case the Go validator accepts, the
// JSON Schema accepts, and every case it refuses for a reason the schema can
// express (all but the card-number rule, the clock and the size limit), the
// schema refuses.
func TestLabelSchemaAgreesWithGo(t *testing.T) {
	sch := compileSchema(t, contracts.SchemaFileLabelV1)
	for _, c := range labelCases {
		if !json.Valid([]byte(c.data)) {
			continue
		}
		err := schemaValidate(t, sch, []byte(c.data))
		switch {
		case c.kind == "":
			assert.NoError(t, err, c.name)
		case strings.Contains(c.name, "card number"), c.name == "future", c.name == "before 2000", c.name == "too large":
		default:
			assert.Error(t, err, c.name)
		}
	}
}

func TestLabelRoundTrip(t *testing.T) {
	lb := contracts.Label{
		SchemaVersion: contracts.LabelSchemaV1, TransactionID: "txn_9", Label: contracts.OutcomeLegit,
		Source: contracts.SourceReview, ReportedAt: labelNow.Add(-time.Hour),
	}
	v := labelValidator()
	require.NoError(t, v.ValidateLabel(&lb))
	b, err := json.Marshal(&lb)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "reason_code", "optional fields are omitted")
	var got contracts.Label
	require.NoError(t, v.DecodeLabel(b, &got))
	assert.Equal(t, lb, got)
	assert.Equal(t, "fraud.labels.review", contracts.LabelSubject(got.Source))
	require.Error(t, v.ValidateLabel(nil))
	require.Error(t, v.DecodeLabel(b, nil))
}

func FuzzDecodeLabel(f *testing.F) {
	for _, c := range labelCases {
		f.Add([]byte(c.data))
	}
	v := labelValidator()
	f.Fuzz(func(t *testing.T, data []byte) {
		var lb contracts.Label
		if err := v.DecodeLabel(data, &lb); err != nil {
			var ve *contracts.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("not a validation error: %v", err)
			}
			return
		}
		if err := v.ValidateLabel(&lb); err != nil {
			t.Fatalf("decoded label does not validate: %v", err)
		}
	})
}
