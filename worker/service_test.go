package worker_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

func request(t *testing.T, nc *nats.Conn, data []byte) *nats.Msg {
	t.Helper()
	resp, err := nc.Request("fraud.score", data, 5*time.Second)
	require.NoError(t, err)
	return resp
}

func TestRequestReply(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxPayload = 4096
	s := natstest.Start(t)
	defer s.Shutdown()
	r := startWorker(t, s.ClientURL(), cfg, nil)
	nc, js := connect(t, s.ClientURL())

	t.Run("valid event answers its verdict and stores an audit copy", func(t *testing.T) {
		ev := events(4, 1)[0]
		data, _ := json.Marshal(&ev)
		resp := request(t, nc, data)
		assert.Empty(t, resp.Header.Get(micro.ErrorCodeHeader))
		var vd contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict(resp.Data, &vd))
		require.NoError(t, contracts.NewValidator().ValidateVerdict(&vd))
		assert.Equal(t, ev.TransactionID, vd.TransactionID)
		var want contracts.Verdict
		require.NoError(t, newScorer(t).Score(&ev, &want))
		assert.Equal(t, want.Decision, vd.Decision)
		assert.InDelta(t, want.Score, vd.Score, 1e-12)
		assert.Equal(t, testenv.BundledModel(t).Version, resp.Header.Get(contracts.HeaderModelVersion))
		assert.Equal(t, string(vd.Decision), resp.Header.Get(contracts.HeaderDecision))
		assert.Equal(t, contracts.VerdictSchemaV1, resp.Header.Get(contracts.HeaderSchema))

		waitCount(t, js, cfg.VerdictStream, 1, 10*time.Second)
		got := verdictsByID(t, js, cfg.VerdictStream)
		assert.Equal(t, vd.Decision, got[ev.TransactionID].Decision)

		// Asking again gives the same decision; the audit trail keeps one verdict.
		resp2 := request(t, nc, data)
		var vd2 contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict(resp2.Data, &vd2))
		assert.Equal(t, vd.Decision, vd2.Decision)
		assert.Equal(t, vd.Score, vd2.Score)
		time.Sleep(200 * time.Millisecond)
		assert.Equal(t, uint64(1), streamCount(t, js, cfg.VerdictStream))
	})

	cases := []struct {
		name, payload, code string
		contains            []string
	}{
		{"malformed JSON", "{nope", "400", []string{"malformed"}},
		{"missing fields", `{"schema_version":"transaction_event.v1","transaction_id":"x1"}`, "400",
			[]string{"event_time", "card_token", "amount_minor", "currency", "mcc", "channel"}},
		{"unknown schema", `{"schema_version":"transaction_event.v7"}`, "400", []string{"schema_version"}},
		{"card number in token", strings.Replace(validJSON(t), `"card_token":"`, `"card_token":"4111111111111111`, 1), "400",
			[]string{"card_token"}},
		{"too large", `{"pad":"` + strings.Repeat("x", 5000) + `"}`, "413", []string{"exceeds"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := request(t, nc, []byte(c.payload))
			assert.Equal(t, c.code, resp.Header.Get(micro.ErrorCodeHeader))
			desc := resp.Header.Get(micro.ErrorHeader)
			for _, s := range c.contains {
				assert.Contains(t, desc, s)
			}
			assert.NotContains(t, desc, "4111111111111111", "errors never echo card numbers")
		})
	}

	t.Run("discoverable with micro stats", func(t *testing.T) {
		resp, err := nc.Request("$SRV.INFO.fraudscore", nil, 2*time.Second)
		require.NoError(t, err)
		var info micro.Info
		require.NoError(t, json.Unmarshal(resp.Data, &info))
		assert.Equal(t, "fraudscore", info.Name)
		assert.Equal(t, "1.0.0", info.Version)
		require.Len(t, info.Endpoints, 1)
		assert.Equal(t, "fraud.score", info.Endpoints[0].Subject)
		assert.Equal(t, "fraudscore", info.Endpoints[0].QueueGroup)
		// micro counts a request after its handler returns, so the reply
		// can arrive before the count: ask until it is there (bounded).
		var st micro.Stats
		for deadline := time.Now().Add(10 * time.Second); ; {
			resp, err = nc.Request("$SRV.STATS.fraudscore", nil, 2*time.Second)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(resp.Data, &st))
			require.Len(t, st.Endpoints, 1)
			if (st.Endpoints[0].NumRequests >= 7 && st.Endpoints[0].NumErrors >= 5) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		assert.GreaterOrEqual(t, st.Endpoints[0].NumRequests, 7)
		assert.GreaterOrEqual(t, st.Endpoints[0].NumErrors, 5)
	})
	_ = r
}

func validJSON(t *testing.T) string {
	t.Helper()
	ev := events(5, 1)[0]
	data, err := json.Marshal(&ev)
	require.NoError(t, err)
	return string(data)
}
