package lifecycle

// FNV-1a 64 constants (hash/fnv), inlined so that hashing a card token does
// not allocate.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// CardHash is the FNV-1a 64 hash of a card token, the same as hash/fnv's
// New64a over its bytes. It does not allocate.
func CardHash(cardToken string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(cardToken); i++ {
		h ^= uint64(cardToken[i])
		h *= fnvPrime64
	}
	return h
}

// InChallengerShare reports whether, in split mode, the challenger decides
// for the card: whether the top 53 bits of CardHash(cardToken), read as a
// fraction of 2^53, fall below share. share 0 selects no card and share 1
// every card; one card always gets the same answer.
func InChallengerShare(cardToken string, share float64) bool {
	return CardHash(cardToken)>>11 < shareThreshold(share)
}

// shareThreshold is share as a count of 2^53 slots.
func shareThreshold(share float64) uint64 {
	switch {
	case share <= 0 || share != share:
		return 0
	case share >= 1:
		return 1 << 53
	}
	return uint64(share * (1 << 53))
}
