package training_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/training"
)

// Every feature the extractor knows has a default reason that passes the
// store's checks, with a distinct code.
func TestDefaultReasonsCoverEveryFeature(t *testing.T) {
	rt, err := training.DefaultReasons(features.Names())
	require.NoError(t, err)
	require.NoError(t, rt.Check(features.Names()))
	assert.Len(t, rt.Codes(), features.Count, "codes must be distinct")
	assert.Equal(t, "IP_CARD_COUNTRY_MISMATCH", rt[features.IPCardMismatch].Code)
	assert.Equal(t, "IP country differs from the card's issuing country", rt[features.IPCardMismatch].Text)

	_, err = training.DefaultReasons([]string{features.LogAmount, "shoe_size"})
	assert.ErrorContains(t, err, `"shoe_size"`)
}
