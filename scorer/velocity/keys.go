package velocity

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Key prefixes: a card's state is at CardKey, a device's at DeviceKey.
const (
	cardKeyPrefix   = "c."
	deviceKeyPrefix = "d."
)

// digest returns the first 8 bytes of SHA-256(s) as a big-endian uint64:
// the identity of a card, a device or a transaction in velocity state.
func digest(s string) uint64 {
	sum := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint64(sum[:8])
}

// key returns prefix followed by the 16 lowercase hex digits of h.
func key(prefix string, h uint64) string {
	var b [2 + 16]byte
	copy(b[:], prefix)
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], h)
	hex.Encode(b[2:], raw[:])
	return string(b[:])
}

// CardHash is a card's identity in velocity state: the first 8 bytes of
// SHA-256(card_token), big-endian. Device entries record it.
func CardHash(cardToken string) uint64 { return digest(cardToken) }

// DeviceHash is a device's identity in velocity state: the first 8 bytes
// of SHA-256(device_id), big-endian; 1 in the one case in 2^64 where that
// is 0, which card entries use for "no device".
func DeviceHash(deviceID string) uint64 {
	if h := digest(deviceID); h != 0 {
		return h
	}
	return 1
}

// TxnHash is a transaction's identity in velocity state: the first 8 bytes
// of SHA-256(transaction_id), big-endian.
func TxnHash(transactionID string) uint64 { return digest(transactionID) }

// CardKey is the Store key of a card's state: "c." and 16 lowercase hex
// digits of the first 8 bytes of SHA-256(card_token). The token itself is
// never stored.
func CardKey(cardToken string) string { return key(cardKeyPrefix, digest(cardToken)) }

// DeviceKey is the Store key of a device's state: "d." and 16 lowercase hex
// digits of the first 8 bytes of SHA-256(device_id).
func DeviceKey(deviceID string) string { return key(deviceKeyPrefix, digest(deviceID)) }
