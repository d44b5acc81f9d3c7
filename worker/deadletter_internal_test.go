package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/fraudscore/fraudscore/contracts"
)

// A dead letter is masked in its payload and in every header made from the
// input, whatever added it; the headers the worker makes from its own
// numbers stay as they are, even when they pass the Luhn check.
func TestRedactDeadLetter(t *testing.T) {
	w := &Worker{cfg: &Config{DLQPrefix: "fraud.dlq."}, id: "w-1"}
	// A store time whose 19 digits pass the Luhn check, as one in ten do.
	stored := time.Unix(0, 1764672000000000007)
	is := assert.New(t)
	is.True(contracts.LooksLikePAN("1764672000000000007"), "the case needs a Luhn-valid store time")

	m := w.deadLetterMsg([]byte(`{"x_note":"4111 1111 1111 1111"}`), contracts.ReasonInvalid, "detail",
		"payments.transactions.5500000000000004", "TRANSACTIONS", 7, 1, stored)
	m.Header.Set("tracestate", "v=6011111111111117")
	msgID := m.Header.Get(contracts.HeaderMsgID)
	is.True(redactDeadLetter(m))
	is.Equal(`{"x_note":"4111 11** **** 1111"}`, string(m.Data))
	is.Equal("payments.transactions.550000******0004", m.Header.Get(contracts.HeaderDLQSubject))
	is.Equal("v=601111******1117", m.Header.Get("tracestate"))
	is.Equal(contracts.RedactedPAN, m.Header.Get(contracts.HeaderRedacted))
	is.Equal(msgID, m.Header.Get(contracts.HeaderMsgID), "the de-duplication id is the worker's, never masked")

	clean := w.deadLetterMsg([]byte(`{"card_token":"tok_1"}`), contracts.ReasonInvalid, "detail",
		"payments.transactions.card", "TRANSACTIONS", 8, 1, stored)
	is.False(redactDeadLetter(clean))
	is.Empty(clean.Header.Get(contracts.HeaderRedacted), "a clean dead letter is not marked")
	is.Equal(`{"card_token":"tok_1"}`, string(clean.Data))
}

func TestSanitizeHeader(t *testing.T) {
	assert.Equal(t, "token 411111******1111  bad", sanitizeHeader("token 4111111111111111\r\nbad"))
	long := sanitizeHeader(string(make([]byte, maxDetail-1)) + "é")
	assert.Equal(t, maxDetail-1+len("..."), len(long), "cut before a rune, not inside it")
}
