package contracts_test

import (
	"fmt"

	"github.com/fraudscore/fraudscore/contracts"
)

// A payment system sends a transaction with a W3C traceparent header;
// fraudscore continues the trace with its own span id, so the verdict's
// traceparent has the same trace id and flags and fraudscore's span as
// parent. A malformed header is ignored.
func ExampleParseTraceparent() {
	in := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tp, err := contracts.ParseTraceparent(in)
	if err != nil {
		fmt.Println("ignored:", err)
		return
	}
	fmt.Printf("trace %x, parent %x, sampled %v\n", tp.TraceID, tp.ParentID, tp.Sampled())

	fraudscoreSpan := [8]byte{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31}
	fmt.Println(contracts.HeaderTraceparent+":", tp.Child(fraudscoreSpan))

	_, err = contracts.ParseTraceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")
	fmt.Println(err)
	// Output:
	// trace 4bf92f3577b34da6a3ce929d0e0e4736, parent 00f067aa0ba902b7, sampled true
	// traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01
	// contracts: invalid traceparent: trace id is not 32 lowercase hex digits
}
