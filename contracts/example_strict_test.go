package contracts_test

import (
	"errors"
	"fmt"

	"github.com/fraudscore/fraudscore/contracts"
)

// A card token with invalid UTF-8 bytes is malformed, not turned into
// U+FFFD and scored; the error names the field and a byte offset, never the
// bytes. Duplicate keys and numbers beyond a float64 are refused the same
// way, as are payloads nested deeper than MaxNestingDepth.
func ExampleValidator_DecodeEvent_strictInput() {
	v := contracts.NewValidator()
	var ev contracts.TransactionEvent
	for _, payload := range []string{
		`{"schema_version":"transaction_event.v1","card_token":"tok` + "\xff\xfe" + `"}`,
		`{"schema_version":"transaction_event.v1","mcc":"5411","mcc":"5412"}`,
		`{"schema_version":"transaction_event.v1","extension":{"rate":1e400}}`,
	} {
		err := v.DecodeEvent([]byte(payload), &ev)
		var ve *contracts.ValidationError
		if errors.As(err, &ve) {
			fmt.Println(errors.Is(err, contracts.ErrMalformed), ve.Reason(), ve.Problems[0])
		}
	}
	// Output:
	// true malformed card_token: invalid UTF-8 in a string at byte offset 58
	// true malformed mcc: duplicate key at byte offset 54
	// true malformed number beyond the range of a 64-bit float at byte offset 61
}
