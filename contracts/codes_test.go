package contracts_test

import (
	"sort"
	"testing"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCodeTables(t *testing.T) {
	countries := contracts.CountryCodes()
	currencies := contracts.CurrencyCodes()
	assert.Len(t, countries, 249)
	assert.GreaterOrEqual(t, len(currencies), 150)
	for name, codes := range map[string][]string{"countries": countries, "currencies": currencies} {
		require.True(t, sort.StringsAreSorted(codes), "%s must be sorted for binary search", name)
		for i := 1; i < len(codes); i++ {
			require.NotEqual(t, codes[i-1], codes[i], "%s: duplicate", name)
		}
	}
	for _, c := range countries {
		assert.True(t, contracts.IsCountry(c), c)
	}
	for _, c := range currencies {
		assert.True(t, contracts.IsCurrency(c), c)
	}
	for _, c := range []string{"DE", "US", "GB", "AQ", "AX", "SS", "ZW"} {
		assert.True(t, contracts.IsCountry(c), c)
	}
	for _, c := range []string{"", "UK", "EU", "XK", "de", "D", "DEU", "ZZ"} {
		assert.False(t, contracts.IsCountry(c), c)
	}
	for _, c := range []string{"EUR", "USD", "JPY", "CHF", "XOF", "VES", "SLE", "ZWG", "XCG"} {
		assert.True(t, contracts.IsCurrency(c), c)
	}
	for _, c := range []string{"", "eur", "EU", "EURO", "HRK", "XAU", "XTS", "XXX", "ZWL", "BTC"} {
		assert.False(t, contracts.IsCurrency(c), c)
	}
	countries[0] = "mutated"
	assert.Equal(t, "AD", contracts.CountryCodes()[0], "CountryCodes must return a copy")
}

func TestLooksLikePAN(t *testing.T) {
	yes := []string{
		"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005",
		"3782 822463 10005", "tok4111111111111111", "pan=5500-0000-0000-0004;", "6011111111111117",
		"4111111111111111-20240101", "4222222222222", "6759649826438453",
	}
	no := []string{
		"", "tok_abc", "4111111111111112", "411111111111", "41111111111111111111111",
		"4111--1111-1111-1111-1111", "txn-20240115-000001235", "2025-06-01T11:58:03Z",
		"12345678-1234-1234-1234-123456789012", "4111 1111 1111 111", "4111_1111_1111_1111",
	}
	for _, s := range yes {
		assert.True(t, contracts.LooksLikePAN(s), "%q", s)
	}
	for _, s := range no {
		assert.False(t, contracts.LooksLikePAN(s), "%q", s)
	}
	found := false
	assert.Zero(t, testing.AllocsPerRun(100, func() { found = contracts.LooksLikePAN("tok 4111 1111 1111 1111 x") }))
	assert.True(t, found)
}
