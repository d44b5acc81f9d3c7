package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/synthetic"
)

// The worker, with its default FRAUDSCORE_REASONS=flagged, stores flagged
// verdicts with reason codes and their detail, features from the bundled
// version's table, and approvals with none; request-reply callers get the
// same; the codes given are counted per code on /metrics.
func TestWorkerVerdictsCarryReasons(t *testing.T) {
	_, httpAddr, url := readyWorker(t)
	js := natstest.JetStream(t, url)
	bundled := testenv.BundledModel(t)

	evs := synthEvents(synthetic.Config{Seed: 11, Now: time.Now, IDPrefix: "reasons-", FraudRate: 0.4}, 60)
	natstest.PublishEvents(t, js, "payments.transactions.test", evs[:50])
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()

	check := func(vd *contracts.Verdict) {
		t.Helper()
		if vd.Decision == contracts.DecisionApprove {
			assert.Empty(t, vd.Reasons, vd.TransactionID)
			assert.Empty(t, vd.ReasonDetails, vd.TransactionID)
			return
		}
		require.NotEmpty(t, vd.Reasons, vd.TransactionID)
		assert.LessOrEqual(t, len(vd.Reasons), 3)
		require.Len(t, vd.ReasonDetails, len(vd.Reasons))
		for i, d := range vd.ReasonDetails {
			r, ok := bundled.Reasons[d.Feature]
			require.True(t, ok, "%s: feature %q is not in the table", vd.TransactionID, d.Feature)
			assert.Equal(t, r.Code, d.Code)
			assert.Equal(t, vd.Reasons[i], d.Code)
			assert.Positive(t, d.Contribution)
		}
	}
	decisions := map[contracts.Decision]int{}
	for _, ev := range evs[50:] {
		data, _ := json.Marshal(&ev)
		resp, err := nc.Request(contracts.SubjectScore, data, 10*time.Second)
		require.NoError(t, err)
		var vd contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict(resp.Data, &vd), "%s", resp.Data)
		check(&vd)
		decisions[vd.Decision]++
	}
	stored := readVerdicts(t, js, len(evs))
	given := 0
	for _, ev := range evs {
		vd, ok := stored[ev.TransactionID]
		require.True(t, ok, "no stored verdict for %s", ev.TransactionID)
		check(&vd)
		decisions[vd.Decision]++
		given += len(vd.Reasons)
	}
	require.Positive(t, decisions[contracts.DecisionDecline], "the traffic must hold declines")
	require.Positive(t, decisions[contracts.DecisionApprove], "the traffic must hold approvals")

	r, err := http.Get("http://" + httpAddr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	counted := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `fraudscore_reasons_total{`) {
			n, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			require.NoError(t, err, line)
			counted += n
		}
	}
	// Every verdict was scored at least once (a redelivery scores again).
	assert.GreaterOrEqual(t, counted, float64(given), "fraudscore_reasons_total counts every code given")
	assert.Contains(t, string(body), `fraudscore_reasons_available{model_version="`+bundled.Version+`"} 1`)
	assert.Contains(t, string(body), `fraudscore_reasons_total{code="IP_CARD_COUNTRY_MISMATCH",model_version="`+bundled.Version+`"}`)
}

// Bad reason settings are configuration errors: exit 2, each named.
func TestWorkerRefusesBadReasonSettings(t *testing.T) {
	r := runBin(t, "", []string{"FRAUDSCORE_REASONS=sometimes", "FRAUDSCORE_REASONS_TOP=0"}, "worker")
	assert.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stderr, `FRAUDSCORE_REASONS="sometimes" must be flagged, all or off`)
	assert.Contains(t, r.stderr, `FRAUDSCORE_REASONS_TOP=0 must be between 1 and 17`)
}

// model check and promote refuse a version whose reason table misses a
// feature the model uses; a version without a table passes.
func TestModelCheckRefusesIncompleteReasonTable(t *testing.T) {
	dir, v1, v2 := tempStore(t)
	p := filepath.Join(dir, v1, modelstore.ReasonsFile)
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	var table map[string]any
	require.NoError(t, json.Unmarshal(raw, &table))
	delete(table, "new_device")
	raw, err = json.Marshal(table)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, raw, 0o644))

	r := runBin(t, "", nil, "model", "check", "-dir", dir, v1)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `reasons.json: invalid reason table: feature "new_device" has no reason`)
	r = runBin(t, "", nil, "model", "promote", "-dir", dir, v1)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, v2, latestOf(t, dir))

	require.NoError(t, os.Remove(filepath.Join(dir, v2, modelstore.ReasonsFile)))
	r = runBin(t, "", nil, "model", "check", "-dir", dir, v2)
	assert.Zero(t, r.code, r.stderr)
}
