package labels_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/labels"
)

func TestDelayed(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := labels.NewDelayed(0.5, time.Minute, 10000, 1)
	scheduled := 0
	for i := range 1000 {
		if d.Add(t0.Add(time.Duration(i)*time.Millisecond), "t"+string(rune('a'+i%26)), i%10 == 0) {
			scheduled++
		}
	}
	assert.InDelta(t, 500, scheduled, 60, "about half are labelled")
	assert.Empty(t, d.Due(t0.Add(59*time.Second), nil), "nothing before the delay")
	got := d.Due(t0.Add(time.Minute+500*time.Millisecond), nil)
	require.NotEmpty(t, got)
	assert.Less(t, len(got), scheduled)
	v := contracts.NewValidator()
	for _, lb := range got {
		assert.Equal(t, contracts.SourceSynthetic, lb.Source)
		assert.NoError(t, v.ValidateLabel(&lb))
	}
	rest := d.Due(t0.Add(2*time.Minute), nil)
	assert.Equal(t, scheduled, len(got)+len(rest), "every scheduled label once")
	assert.Empty(t, d.Due(t0.Add(3*time.Minute), nil))

	full := labels.NewDelayed(1, time.Minute, 2, 1)
	for range 5 {
		full.Add(t0, "x", true)
	}
	assert.Equal(t, int64(3), full.Dropped())
}
