package contracts_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
)

func TestRedactPANs(t *testing.T) {
	cases := []struct {
		in, want string
		n        int
	}{
		{"", "", 0},
		{"tok_abc", "tok_abc", 0},
		{"4111111111111112", "4111111111111112", 0}, // fails Luhn
		{"txn-20240115-000001235", "txn-20240115-000001235", 0},
		{"4111111111111111", "411111******1111", 1},
		{"4111 1111 1111 1111", "4111 11** **** 1111", 1},
		{"4111-1111-1111-1111", "4111-11**-****-1111", 1},
		{"4222222222222", "422222***2222", 1}, // 13 digits
		{"tok4111111111111111x", "tok411111******1111x", 1},
		{"4111111111111111-20240101", "411111******1111-20240101", 1},
		// A grouped card number followed by its CVV: the card number's groups
		// are a candidate of their own.
		{"4111 1111 1111 1111 123", "4111 11** **** 1111 123", 1},
		{
			`{"card_token":"4111111111111111","x_unknown":"5500-0000-0000-0004","amount_minor":6011111111111117}`,
			`{"card_token":"411111******1111","x_unknown":"5500-00**-****-0004","amount_minor":601111******1117}`, 3,
		},
		{"\xff\x00 378282246310005 \xfe", "\xff\x00 378282*****0005 \xfe", 1}, // not JSON, not UTF-8
		{"pan=4111111111111111;pan=4111111111111111", "pan=411111******1111;pan=411111******1111", 2},
	}
	for _, c := range cases {
		out, n := contracts.RedactPANs([]byte(c.in))
		assert.Equal(t, c.want, string(out), "%q", c.in)
		assert.Equal(t, c.n, n, "%q", c.in)
		assert.False(t, contracts.LooksLikePAN(string(out)), "%q redacted still looks like a PAN: %q", c.in, out)
		s, ns := contracts.RedactPANString(c.in)
		assert.Equal(t, c.want, s)
		assert.Equal(t, c.n, ns)
	}
}

func TestContainsPANAgreesWithLooksLikePAN(t *testing.T) {
	for _, s := range []string{"", "tok_1", `{"x_note":"4111 1111 1111 1111"}`, `{"amount_minor":6011111111111117}`, "4111111111111112"} {
		assert.Equal(t, contracts.LooksLikePAN(s), contracts.ContainsPAN([]byte(s)), "%q", s)
	}
	b := []byte(`{"transaction_id":"txn-20240115-000001235","card_token":"tok_4f9a"}`)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = contracts.ContainsPAN(b) }))
}

func TestRedactPANsLeavesInputAlone(t *testing.T) {
	in := []byte(`{"card_token":"4111111111111111"}`)
	orig := string(in)
	out, n := contracts.RedactPANs(in)
	require.Equal(t, 1, n)
	assert.Equal(t, orig, string(in), "the input was modified")
	assert.Len(t, out, len(in))

	clean := []byte(`{"card_token":"tok_1"}`)
	same, n := contracts.RedactPANs(clean)
	assert.Zero(t, n)
	assert.Same(t, &clean[0], &same[0], "nothing masked: the input itself comes back")
}

// Masking can leave digits that join their neighbours into a new candidate;
// the result is masked again until nothing looks like a PAN.
func TestRedactPANsUntilNothingLooksLikeAPAN(t *testing.T) {
	in := "4111111111111111 1234567891"
	first := "411111******1111 1234567891"
	require.True(t, contracts.LooksLikePAN(first[12:]), "the case must produce a second candidate: %q", first[12:])
	out, n := contracts.RedactPANString(in)
	assert.False(t, contracts.LooksLikePAN(out), "%q", out)
	assert.GreaterOrEqual(t, n, 2)
	assert.True(t, strings.HasPrefix(out, "411111"), "%q", out)
}

func TestRedactPANsDoesNotAllocateWhenClean(t *testing.T) {
	b := []byte(`{"transaction_id":"txn-20240115-000001235","card_token":"tok_4f9a","amount_minor":129900}`)
	s := string(b)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = contracts.RedactPANs(b) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = contracts.RedactPANString(s) }))
}

// chainRE finds the digit chains of the rule: groups joined by one space or
// dash.
var chainRE = regexp.MustCompile(`[0-9]+(?:[ -][0-9]+)*`)

// naiveLooksLikePAN is the rule of pan.go written the slow, obvious way: every
// run of whole groups of every chain, 13 to 19 digits, Luhn.
func naiveLooksLikePAN(s string) bool {
	for _, chain := range chainRE.FindAllString(s, -1) {
		groups := strings.FieldsFunc(chain, func(r rune) bool { return r == ' ' || r == '-' })
		for i := range groups {
			digits := ""
			for j := i; j < len(groups); j++ {
				digits += groups[j]
				if len(digits) >= 13 && len(digits) <= 19 && naiveLuhn(digits) {
					return true
				}
			}
		}
	}
	return false
}

func naiveLuhn(d string) bool {
	sum := 0
	for i := 0; i < len(d); i++ {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func FuzzRedactPANs(f *testing.F) {
	f.Add([]byte(`{"card_token":"4111 1111 1111 1111 123"}`))
	f.Add([]byte("4111111111111111 1234567891"))
	f.Add([]byte("1-2-3-4-5-6-7-8-9-0-1-2-3-4-5-6-7-8-9"))
	f.Add([]byte("12 4111111111111111 5 41111111111111111234 4111-1111--1111"))
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := string(data)
		out, n := contracts.RedactPANs(data)
		if string(data) != orig {
			t.Fatal("input modified")
		}
		if len(out) != len(data) {
			t.Fatalf("length changed: %d -> %d", len(data), len(out))
		}
		if contracts.LooksLikePAN(string(out)) {
			t.Fatalf("redacted %q still looks like a PAN: %q", data, out)
		}
		if naiveLooksLikePAN(orig) != contracts.LooksLikePAN(orig) {
			t.Fatalf("LooksLikePAN(%q) = %v, the rule written naively says %v", orig, contracts.LooksLikePAN(orig), naiveLooksLikePAN(orig))
		}
		if (n == 0) != !contracts.LooksLikePAN(orig) {
			t.Fatalf("n=%d but LooksLikePAN(input)=%v", n, contracts.LooksLikePAN(orig))
		}
		for i := range data {
			if out[i] != data[i] && (out[i] != '*' || data[i] < '0' || data[i] > '9') {
				t.Fatalf("byte %d changed from %q to %q: only digits may become '*'", i, data[i], out[i])
			}
		}
	})
}

// The cost the worker adds per message: one scan of the whole payload
// (ContainsPAN), and LooksLikePAN per string field in validation.
func BenchmarkContainsPAN(b *testing.B) {
	payload := []byte(`{"schema_version":"transaction_event.v1","transaction_id":"txn-20240115-000001235",` +
		`"event_time":"2025-06-01T11:58:03.123456789Z","card_token":"tok_c8f1e2a94b7d","amount_minor":129900,` +
		`"currency":"EUR","merchant_id":"m_100233","mcc":"5411","merchant_country":"DE","channel":"ecommerce",` +
		`"card_country":"DE","ip_country":"FR","device_id":"dev-2024-06-01-0001","account_age_days":812,` +
		`"aggregates":{"card_txn_count_1h":1,"card_amount_24h_minor":12000,"device_card_count_24h":1,"new_device":false}}`)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if contracts.ContainsPAN(payload) {
			b.Fatal("clean payload")
		}
	}
}

func BenchmarkLooksLikePAN(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if contracts.LooksLikePAN("txn-20240115-000001235") || contracts.LooksLikePAN("dev-2024-06-01-0001") {
			b.Fatal("clean identifiers")
		}
	}
}
