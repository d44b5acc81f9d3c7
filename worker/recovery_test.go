package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

// An operator deletes the shared consumer under a running worker: the
// watchdog recreates it and consumption resumes without a restart.
func TestConsumerDeletedIsRecreated(t *testing.T) {
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	r := startWorker(t, s.ClientURL(), cfg, nil)
	_, js := connect(t, s.ClientURL())
	natstest.PublishEvents(t, js, testSubject, events(21, 100))
	waitCount(t, js, cfg.VerdictStream, 100, 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, js.DeleteConsumer(ctx, cfg.Stream, cfg.Consumer))

	natstest.PublishEvents(t, js, testSubject, events(22, 100))
	waitCount(t, js, cfg.VerdictStream, 200, 60*time.Second)
	assert.Len(t, verdictsByID(t, js, cfg.VerdictStream), 200)
	assert.NoError(t, r.w.Ready())
	assert.NoError(t, r.w.Healthy())
}

func TestConfigRejectsAckWaitThatTheServerWouldIgnore(t *testing.T) {
	cfg := testConfig(t)
	cfg.BackOff = []time.Duration{5 * time.Second, 10 * time.Second}
	cfg.AckWait = 30 * time.Second
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "FRAUDSCORE_ACK_WAIT")
	cfg.AckWait = 5 * time.Second
	assert.NoError(t, cfg.Validate())
}

func TestConfigRejectsDuplicateWindowShorterThanRedeliverySpan(t *testing.T) {
	cfg := testConfig(t)
	cfg.VerdictDupWindow = cfg.RedeliverySpan()
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "FRAUDSCORE_VERDICT_DUPLICATE_WINDOW")
	// The span covers the PubAck timeout and the publish stall per delivery.
	assert.Greater(t, cfg.RedeliverySpan(), time.Duration(cfg.MaxDeliver)*max(cfg.AckWait, cfg.NakDelayMax))
}
