package worker_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/settings"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/labels"
)

func TestLabelConfig(t *testing.T) {
	lc := worker.DefaultLabelConfig()
	assert.False(t, lc.Enabled, "off by default")
	assert.Empty(t, lc.Problems())
	assert.Equal(t, labels.DefaultStream, lc.Stream, "one default, shared with the report")
	assert.Equal(t, labels.DefaultIndexBucket, lc.IndexBucket)
	assert.Equal(t, labels.DefaultStateBucket, lc.StateBucket)

	_, err := settings.Load([]string{"FRAUDSCORE_LABELS=true", "FRAUDSCORE_LABEL_HORIZON=30m",
		"FRAUDSCORE_LABEL_STREAM=LA.BELS", "FRAUDSCORE_LABEL_PREFIX=fraud.labels"}, worker.LabelSection(&lc))
	require.ErrorIs(t, err, worker.ErrConfig)
	for _, v := range []string{"FRAUDSCORE_LABEL_HORIZON", "FRAUDSCORE_LABEL_STREAM", "FRAUDSCORE_LABEL_PREFIX"} {
		assert.True(t, strings.Contains(err.Error(), v), "%s named in %v", v, err)
	}
}
