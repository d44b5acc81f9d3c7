package contracts_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/fraudscore/fraudscore/contracts"
)

// The example of the W3C Trace Context specification.
const specTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestParseTraceparentValid(t *testing.T) {
	cases := map[string]string{
		"spec example":       specTraceparent,
		"not sampled":        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		"unknown flags kept": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
		"surrounding spaces": " \t" + specTraceparent + " ",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			tp, err := contracts.ParseTraceparent(in)
			if err != nil {
				t.Fatalf("ParseTraceparent(%q): %v", in, err)
			}
			if !tp.Valid() {
				t.Fatal("parsed value is not Valid")
			}
			if got, want := tp.String(), strings.Trim(in, " \t"); got != want {
				t.Fatalf("String() = %q, want %q", got, want)
			}
		})
	}
	tp, _ := contracts.ParseTraceparent(specTraceparent)
	if got := hex.EncodeToString(tp.TraceID[:]); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id %s", got)
	}
	if got := hex.EncodeToString(tp.ParentID[:]); got != "00f067aa0ba902b7" {
		t.Errorf("parent id %s", got)
	}
	if !tp.Sampled() || tp.Flags != 0x01 {
		t.Errorf("flags %02x", tp.Flags)
	}
}

// A higher version is read by its version 00 prefix and written back as
// version 00 (W3C Trace Context, "Versioning of traceparent").
func TestParseTraceparentHigherVersion(t *testing.T) {
	for _, in := range []string{
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds",
	} {
		tp, err := contracts.ParseTraceparent(in)
		if err != nil {
			t.Fatalf("ParseTraceparent(%q): %v", in, err)
		}
		if got := tp.String(); got != specTraceparent {
			t.Errorf("%q: String() = %q, want %q", in, got, specTraceparent)
		}
	}
}

func TestParseTraceparentInvalid(t *testing.T) {
	cases := map[string]string{
		"empty":                               "",
		"short":                               specTraceparent[:54],
		"version 00 too long":                 specTraceparent + "-00",
		"version ff":                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"version not hex":                     "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"higher version, no dash after flags": "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
		"uppercase trace id":                  "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"uppercase parent id":                 "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
		"uppercase flags":                     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
		"zero trace id":                       "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"zero parent id":                      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"wrong separator":                     "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"misplaced separator":                 "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
		"non-hex in trace id":                 "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
		"non-hex in flags":                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"non-ascii":                           "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			tp, err := contracts.ParseTraceparent(in)
			if !errors.Is(err, contracts.ErrTraceparent) {
				t.Fatalf("ParseTraceparent(%q) = %v, %v; want ErrTraceparent", in, tp, err)
			}
			if in != "" && strings.Contains(err.Error(), in) {
				t.Errorf("error quotes the value: %v", err)
			}
		})
	}
}

func TestTraceParentChild(t *testing.T) {
	tp, _ := contracts.ParseTraceparent(specTraceparent)
	child := tp.Child([8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	if got, want := child.String(), "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01"; got != want {
		t.Fatalf("Child = %q, want %q", got, want)
	}
	if (contracts.TraceParent{}).Valid() {
		t.Fatal("the zero TraceParent is Valid")
	}
}

func TestTraceParentAppendToDoesNotAllocate(t *testing.T) {
	tp, _ := contracts.ParseTraceparent(specTraceparent)
	buf := make([]byte, 0, contracts.TraceparentLen)
	if n := testing.AllocsPerRun(100, func() { buf = tp.AppendTo(buf[:0]) }); n != 0 {
		t.Fatalf("AppendTo allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = contracts.ParseTraceparent(specTraceparent) }); n != 0 {
		t.Fatalf("ParseTraceparent of a valid value allocates %v times", n)
	}
}

// Whatever ParseTraceparent accepts it writes back as a valid version 00
// value that parses to the same thing; it never panics.
func FuzzParseTraceparent(f *testing.F) {
	f.Add(specTraceparent)
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := contracts.ParseTraceparent(s)
		if err != nil {
			if !errors.Is(err, contracts.ErrTraceparent) {
				t.Fatalf("error %v does not wrap ErrTraceparent", err)
			}
			return
		}
		out := tp.String()
		back, err := contracts.ParseTraceparent(out)
		if err != nil || back != tp || len(out) != contracts.TraceparentLen {
			t.Fatalf("%q -> %q -> %v, %v", s, out, back, err)
		}
		if strings.HasPrefix(s, "00-") && out != strings.Trim(s, " \t") {
			t.Fatalf("version 00 %q written back as %q", s, out)
		}
	})
}

func BenchmarkParseTraceparent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.ParseTraceparent(specTraceparent); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTraceparentChildString is what a worker does per traced message
// to build the outgoing header value: a child with a new span id, as a
// string.
func BenchmarkTraceparentChildString(b *testing.B) {
	tp, _ := contracts.ParseTraceparent(specTraceparent)
	b.ReportAllocs()
	var s string
	for b.Loop() {
		s = tp.Child([8]byte{1, 2, 3, 4, 5, 6, 7, 8}).String()
	}
	_ = s
}
