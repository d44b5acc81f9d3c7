package testenv

import (
	"fmt"
	"strings"
)

// TypicalRules returns a rule set (rules.yaml) of n typical analyst rules:
// comparisons, set membership and string prefixes over event fields, each
// with an example it matches and one it does not. None matches the
// default example event (rules.ExampleEvent) nor, with rare exceptions, the
// synthetic generator's traffic, so that every rule is evaluated. With
// numeric false the rules read only strings of bounded sets (countries,
// MCC, channel, currency), which evaluate without allocating; with numeric
// set, two rules in five also read the amount, the account age, the
// merchant id and the score.
func TypicalRules(n int, numeric bool) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		x := string(rune('A' + i%26))
		var expr, event, extra string
		switch {
		case i%5 == 0:
			expr = fmt.Sprintf(`event.card_country in ["NG", "GH", "C%s", "KP", "IR"] && event.mcc == "%04d"`, x, 7000+i)
			event = fmt.Sprintf(`{card_country: NG, mcc: "%04d"}`, 7000+i)
		case i%5 == 1:
			expr = fmt.Sprintf(`event.merchant_country != event.card_country && event.channel == "atm" && event.ip_country == "Z%s"`, x)
			event = fmt.Sprintf(`{merchant_country: DE, channel: atm, ip_country: Z%s}`, x)
		case i%5 == 2:
			expr = fmt.Sprintf(`event.mcc.startsWith("6%d") && event.merchant_country in ["RU", "BY", "V%s"]`, i%10, x)
			event = fmt.Sprintf(`{mcc: "6%d00", merchant_country: RU}`, i%10)
		case i%5 == 3 && numeric:
			expr = fmt.Sprintf(`event.amount_minor > %d && score >= 0.%02d`, 100000+i*1000, 40+i%50)
			event, extra = `{amount_minor: 100000000}`, ", score: 0.99"
		case i%5 == 3:
			expr = fmt.Sprintf(`event.ip_country != "" && event.ip_country != event.card_country && event.mcc == "%04d"`, 5000+i)
			event = fmt.Sprintf(`{ip_country: NG, mcc: "%04d"}`, 5000+i)
		case numeric:
			expr = fmt.Sprintf(`event.merchant_id.startsWith("m_watch_%d_") || event.account_age_days < %d && score > 0.%d`, i, i%5, 3+i%6)
			event = fmt.Sprintf(`{merchant_id: m_watch_%d_1}`, i)
		default:
			expr = fmt.Sprintf(`event.channel in ["moto", "atm"] && event.currency == "XA%s"`, x)
			event = fmt.Sprintf(`{channel: moto, currency: XA%s}`, x)
		}
		fmt.Fprintf(&b, "  - name: rule_%02d\n    expression: %q\n    action: %s\n    examples:\n      - {match: true, event: %s%s}\n      - {match: false}\n",
			i, expr, []string{"review", "decline"}[i%2], event, extra)
	}
	return b.String()
}
