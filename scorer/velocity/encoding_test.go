package velocity_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/scorer/velocity"
)

// sampleCard returns a card state of n entries over devices devices.
func sampleCard(t testing.TB, n, devices int) velocity.CardState {
	t.Helper()
	c := cfg(func(c *velocity.Config) { c.MaxEntries = max(n, 1); c.MaxDevicesPerCard = max(devices, 1) })
	var s velocity.CardState
	for i := range n {
		dev := ""
		if devices > 0 {
			dev = fmt.Sprint("dev", i%devices)
		}
		cur := [...]string{"EUR", "USD"}[i%2]
		if r := s.Apply(txn(fmt.Sprint("t", i), "card", dev, time.Duration(i)*time.Second, int64(100+i), cur), c); r.Outcome != velocity.Recorded {
			t.Fatalf("sample entry %d: %+v", i, r)
		}
	}
	return s
}

// sampleDevice returns a device state of n entries.
func sampleDevice(t testing.TB, n int) velocity.DeviceState {
	t.Helper()
	c := cfg(func(c *velocity.Config) { c.MaxEntries = max(n, 1) })
	var s velocity.DeviceState
	for i := range n {
		s.Apply(txn(fmt.Sprint("t", i), fmt.Sprint("card", i%7), "dev", time.Duration(i)*time.Second, 1, "EUR"), c)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 5, 100} {
		card := sampleCard(t, n, min(n, 3))
		b, err := card.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := velocity.DecodeCard(b)
		if err != nil {
			t.Fatalf("decode card of %d: %v", n, err)
		}
		if !reflect.DeepEqual(normCard(got), normCard(card)) {
			t.Fatalf("card of %d entries: round trip differs:\n%+v\n%+v", n, got, card)
		}
		dev := sampleDevice(t, n)
		b, _ = dev.MarshalBinary()
		gotDev, err := velocity.DecodeDevice(b)
		if err != nil {
			t.Fatalf("decode device of %d: %v", n, err)
		}
		if !reflect.DeepEqual(normDevice(gotDev), normDevice(dev)) {
			t.Fatalf("device of %d entries: round trip differs", n)
		}
	}
	// Absent key: the empty state.
	if s, err := velocity.DecodeCard(nil); err != nil || s.LastOrd != 0 || len(s.Entries) != 0 {
		t.Fatalf("nil: %+v %v", s, err)
	}
}

// normCard makes nil and empty slices equal.
func normCard(s velocity.CardState) velocity.CardState {
	if len(s.Entries) == 0 {
		s.Entries = nil
	}
	if len(s.Devices) == 0 {
		s.Devices = nil
	}
	return s
}

func normDevice(s velocity.DeviceState) velocity.DeviceState {
	if len(s.Entries) == 0 {
		s.Entries = nil
	}
	return s
}

func TestDecodeCorrupt(t *testing.T) {
	card := sampleCard(t, 3, 2)
	good, _ := card.MarshalBinary()
	dev := sampleDevice(t, 2)
	goodDev, _ := dev.MarshalBinary()
	edit := func(b []byte, at int, v byte) []byte {
		b = bytes.Clone(b)
		b[at] = v
		return b
	}
	entryFlags := velocity.CardHeaderBytes + velocity.CardEntryBytes - 1
	entryOrd := velocity.CardHeaderBytes + 8
	for _, tc := range []struct {
		name   string
		b      []byte
		device bool
	}{
		{"one byte", []byte{velocity.FormatVersion}, false},
		{"unknown version", edit(good, 0, 2), false},
		{"version 0", edit(good, 0, 0), false},
		{"device state read as card", goodDev, false},
		{"card state read as device", good, true},
		{"short header", good[:velocity.CardHeaderBytes-1], false},
		{"truncated entry", good[:len(good)-1], false},
		{"trailing byte", append(bytes.Clone(good), 0), false},
		{"entry count too large", edit(good, 18, 0xff), false},
		{"device count too large", edit(good, 22, 0xff), false},
		{"unknown flag", edit(good, entryFlags, 2), false},
		{"ordinal beyond LastOrd", edit(good, entryOrd, 0xff), false},
		{"ordinal 0", edit(good, entryOrd, 0), false},
		{"device: truncated", goodDev[:len(goodDev)-3], true},
		{"device: ordinal beyond LastOrd", edit(goodDev, velocity.DeviceHeaderBytes+8, 9), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.device {
				_, err = velocity.DecodeDevice(tc.b)
			} else {
				_, err = velocity.DecodeCard(tc.b)
			}
			if !errors.Is(err, velocity.ErrCorrupt) {
				t.Fatalf("error %v, want ErrCorrupt", err)
			}
		})
	}
	// A state decoded into after a failure is empty, not half-filled.
	s := sampleCard(t, 2, 1)
	if err := s.UnmarshalBinary(edit(good, entryOrd+velocity.CardEntryBytes, 0)); err == nil || len(s.Entries) != 0 || s.LastOrd != 0 {
		t.Fatalf("after a failed decode: %+v, %v", s, err)
	}
}

// TestDocumentedSize reads the size formulas the package documentation
// states and checks them against encoded states, so that the doc cannot
// drift from the encoding.
func TestDocumentedSize(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	// One line: comment markers and line breaks become spaces.
	doc = regexp.MustCompile(`\n//[ \t]?`).ReplaceAll(doc, []byte(" "))
	num := func(re string) []int {
		t.Helper()
		m := regexp.MustCompile(re).FindSubmatch(doc)
		if m == nil {
			t.Fatalf("doc.go does not state %s", re)
		}
		var out []int
		for _, g := range m[1:] {
			n, err := strconv.Atoi(string(bytes.ReplaceAll(g, []byte(","), nil)))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		return out
	}
	cardF := num(`card state bytes\s+= (\d+) \+ (\d+) × entries \+ (\d+) × devices`)
	devF := num(`device state bytes = (\d+) \+ (\d+) × entries`)
	for _, n := range []int{0, 1, 10, 257} {
		for _, d := range []int{0, 1, 2, 32} {
			if d > n {
				continue
			}
			s := sampleCard(t, n, d)
			b, _ := s.MarshalBinary()
			if want := cardF[0] + cardF[1]*n + cardF[2]*d; len(b) != want || len(b) != velocity.CardStateBytes(n, d) {
				t.Fatalf("card state of %d entries, %d devices: %d bytes; doc.go says %d, CardStateBytes %d", n, d, len(b), want, velocity.CardStateBytes(n, d))
			}
		}
		s := sampleDevice(t, n)
		b, _ := s.MarshalBinary()
		if want := devF[0] + devF[1]*n; len(b) != want || len(b) != velocity.DeviceStateBytes(n) {
			t.Fatalf("device state of %d entries: %d bytes; doc.go says %d", n, len(b), want)
		}
	}
	// The worked examples.
	ex := num(`with 10 transactions in a day\s+on 2 devices\s+takes (\d+) \+ (\d+) \+ (\d+) = (\d+) bytes`)
	if ex[0] != cardF[0] || ex[1] != 10*cardF[1] || ex[2] != 2*cardF[2] || ex[3] != velocity.CardStateBytes(10, 2) {
		t.Fatalf("doc example %v, want %d + %d + %d = %d", ex, cardF[0], 10*cardF[1], 2*cardF[2], velocity.CardStateBytes(10, 2))
	}
	def := velocity.DefaultConfig()
	capped := num(`at the caps\s+\((\d+) entries, (\d+) devices\) ([\d,]+) bytes`)
	if capped[0] != def.MaxEntries || capped[1] != def.MaxDevicesPerCard || capped[2] != velocity.CardStateBytes(def.MaxEntries, def.MaxDevicesPerCard) {
		t.Fatalf("doc caps example %v, want %d %d %d", capped, def.MaxEntries, def.MaxDevicesPerCard, velocity.CardStateBytes(def.MaxEntries, def.MaxDevicesPerCard))
	}
}

// FuzzDecodeState: decoding any bytes as either kind of state never panics;
// it fails with ErrCorrupt or yields a state that encodes back to exactly
// the input, and to which a transaction applies.
func FuzzDecodeState(f *testing.F) {
	card := sampleCard(f, 4, 2)
	b, _ := card.MarshalBinary()
	f.Add(b)
	dev := sampleDevice(f, 3)
	b, _ = dev.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{velocity.FormatVersion, 'c'})
	c := cfg(func(c *velocity.Config) { c.MaxEntries = 3; c.MaxDevicesPerCard = 2 })
	x := txn("fuzz", "card", "dev", 0, 1, "EUR")
	f.Fuzz(func(t *testing.T, b []byte) {
		var cs velocity.CardState
		if err := cs.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, velocity.ErrCorrupt) {
				t.Fatalf("card: error %v does not match ErrCorrupt", err)
			}
		} else if len(b) > 0 {
			if back, _ := cs.MarshalBinary(); !bytes.Equal(back, b) {
				t.Fatalf("card: re-encoding differs")
			}
			cs.Apply(x, c)
			cs.Apply(x, c)
		}
		var ds velocity.DeviceState
		if err := ds.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, velocity.ErrCorrupt) {
				t.Fatalf("device: error %v does not match ErrCorrupt", err)
			}
		} else if len(b) > 0 {
			if back, _ := ds.MarshalBinary(); !bytes.Equal(back, b) {
				t.Fatalf("device: re-encoding differs")
			}
			ds.Apply(x, c)
		}
	})
}
