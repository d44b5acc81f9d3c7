package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/synthetic"
)

// A worker with a challenger in shadow stores, for every transaction of
// the stream and of request-reply, the champion's verdict with the
// challenger's result in shadow: read back from VERDICTS by id.
func TestWorkerWithChallengerInShadowStoresShadowEntries(t *testing.T) {
	_, httpAddr, url := readyWorker(t, "FRAUDSCORE_MODEL_DIR="+testenv.ChampionChallengerStore(t, true))
	js := natstest.JetStream(t, url)

	evs := synthEvents(synthetic.Config{Seed: 7, Now: time.Now, IDPrefix: "shadow-"}, 20)
	natstest.PublishEvents(t, js, "payments.transactions.test", evs[:15])
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	want := map[string]bool{}
	for _, ev := range evs {
		want[ev.TransactionID] = true
	}
	for _, ev := range evs[15:] {
		data, _ := json.Marshal(&ev)
		resp, err := nc.Request(contracts.SubjectScore, data, 10*time.Second)
		require.NoError(t, err)
		var vd contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict(resp.Data, &vd))
		checkShadowVerdict(t, &vd)
	}

	got := readVerdicts(t, js, len(want))
	for id := range want {
		vd, ok := got[id]
		require.True(t, ok, "no stored verdict for %s", id)
		checkShadowVerdict(t, &vd)
	}

	// The trial's metrics and both drift windows are on /metrics.
	r, err := http.Get("http://" + httpAddr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, v := range []string{testenv.ChampionVersion, testenv.ChallengerVersion} {
		assert.Contains(t, string(body), `fraudscore_score_count{model_version="`+v+`"} 20`)
		assert.Contains(t, string(body), `fraudscore_drift_window_events{model_version="`+v+`"} 20`)
	}
	assert.Contains(t, string(body), `fraudscore_challenger_info{model_version="`+testenv.ChallengerVersion+`"} 1`)
}

func checkShadowVerdict(t *testing.T, vd *contracts.Verdict) {
	t.Helper()
	assert.Equal(t, testenv.ChampionVersion, vd.ModelVersion, vd.TransactionID)
	require.Len(t, vd.Shadow, 1, vd.TransactionID)
	assert.Equal(t, testenv.ChallengerVersion, vd.Shadow[0].ModelVersion)
	assert.Equal(t, vd.Score, vd.Shadow[0].Score, "copies of one model score alike")
}

// readVerdicts reads the VERDICTS stream until it has n distinct
// transaction ids, keyed by id.
func readVerdicts(t *testing.T, js jetstream.JetStream, n int) map[string]contracts.Verdict {
	t.Helper()
	out := map[string]contracts.Verdict{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(out) < n {
		c, err := js.OrderedConsumer(ctx, "VERDICTS", jetstream.OrderedConsumerConfig{})
		require.NoError(t, err)
		batch, err := c.FetchNoWait(1000)
		require.NoError(t, err)
		for m := range batch.Messages() {
			var vd contracts.Verdict
			require.NoError(t, contracts.DecodeVerdict(m.Data(), &vd), string(m.Data()))
			out[vd.TransactionID] = vd
		}
		if len(out) < n {
			select {
			case <-ctx.Done():
				t.Fatalf("VERDICTS holds %d of %d verdicts", len(out), n)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return out
}
