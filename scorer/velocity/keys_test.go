package velocity_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/fraudscore/fraudscore/scorer/velocity"
)

func TestKeys(t *testing.T) {
	sum := sha256.Sum256([]byte("tok_4242"))
	if got, want := velocity.CardKey("tok_4242"), "c."+hex.EncodeToString(sum[:8]); got != want {
		t.Fatalf("CardKey %q, want %q", got, want)
	}
	if got, want := velocity.CardHash("tok_4242"), binary.BigEndian.Uint64(sum[:8]); got != want {
		t.Fatalf("CardHash %x, want %x", got, want)
	}
	sum = sha256.Sum256([]byte("device-1"))
	if got, want := velocity.DeviceKey("device-1"), "d."+hex.EncodeToString(sum[:8]); got != want {
		t.Fatalf("DeviceKey %q, want %q", got, want)
	}
	if got, want := velocity.DeviceHash("device-1"), binary.BigEndian.Uint64(sum[:8]); got != want {
		t.Fatalf("DeviceHash %x, want %x", got, want)
	}
	sum = sha256.Sum256([]byte("txn-1"))
	if got, want := velocity.TxnHash("txn-1"), binary.BigEndian.Uint64(sum[:8]); got != want {
		t.Fatalf("TxnHash %x, want %x", got, want)
	}
	if velocity.CardKey("a") == velocity.CardKey("b") || velocity.CardKey("x")[2:] != velocity.DeviceKey("x")[2:] {
		t.Fatal("keys are not the hashes they should be")
	}
	if c := velocity.CurrencyCode("EUR"); c.String() != "EUR" || velocity.CurrencyCode("EU").String() != "EU" {
		t.Fatalf("currency %q", c)
	}
}
