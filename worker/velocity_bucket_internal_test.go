package worker

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

const testAckPrefix = `{"stream":"KV_VELOCITY","seq":`

func TestPubAckSeq(t *testing.T) {
	for _, c := range []struct {
		ack  string
		seq  uint64
		fast bool
	}{
		{testAckPrefix + `1}`, 1, true},
		{testAckPrefix + `18446744073709551615}`, 0, false}, // 20 digits: decoded as JSON
		{testAckPrefix + `1844674407370955161}`, 1844674407370955161, true},
		{testAckPrefix + `0}`, 0, false},
		{testAckPrefix + `012}`, 0, false},
		{testAckPrefix + `}`, 0, false},
		{testAckPrefix + `12`, 0, false},
		{testAckPrefix + `12,"domain":"hub"}`, 0, false},
		{testAckPrefix + `12,"duplicate":true}`, 0, false},
		{testAckPrefix + `-1}`, 0, false},
		{testAckPrefix + ` 12}`, 0, false},
		{`{"stream":"KV_OTHER","seq":12}`, 0, false},
		{`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"KV_VELOCITY","seq":0}`, 0, false},
		{``, 0, false},
	} {
		seq, ok := pubAckSeq([]byte(c.ack), []byte(testAckPrefix))
		require.Equal(t, c.fast, ok, c.ack)
		require.Equal(t, c.seq, seq, c.ack)
	}
}

// Whatever pubAckSeq accepts, JSON decoding reads the same: a stored
// message's acknowledgement of the bucket's stream and its sequence.
func FuzzPubAckSeq(f *testing.F) {
	for _, s := range []string{testAckPrefix + `7}`, testAckPrefix + `123456789}`, testAckPrefix + `9,"domain":"x"}`, `{"stream":"KV_VELOCITY","seq":1e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		seq, ok := pubAckSeq(data, []byte(testAckPrefix))
		if !ok {
			return
		}
		var ack struct {
			Stream string              `json:"stream"`
			Seq    uint64              `json:"seq"`
			Error  *jetstream.APIError `json:"error"`
		}
		if err := json.Unmarshal(data, &ack); err != nil {
			t.Fatalf("pubAckSeq read %d from %q, which JSON refuses: %v", seq, data, err)
		}
		if ack.Stream != "KV_VELOCITY" || ack.Seq != seq || ack.Error != nil {
			t.Fatalf("pubAckSeq read %d from %q, JSON %+v", seq, data, ack)
		}
	})
}

// The server's acknowledgement of a velocity write has the form pubAckSeq
// reads without JSON, on a single server and with the expected-revision
// header (so Put's fast path is the one taken).
func TestServerPubAckTakesTheFastPath(t *testing.T) {
	s := natstest.Start(t)
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := DefaultConfig()
	b, err := OpenVelocityBucket(ctx, nc, &cfg, VelocityLimits{TTL: time.Hour, MaxValue: 1024}, VelocityBucketOptions{})
	require.NoError(t, err)
	var rev uint64
	for i := range 3 {
		resp, err := nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: b.putPrefix + "c.k", Data: []byte{byte(i)},
			Header: nats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(rev, 10)}}})
		require.NoError(t, err)
		seq, ok := pubAckSeq(resp.Data, b.ackPrefix)
		require.True(t, ok, "the server's acknowledgement %q", resp.Data)
		require.Greater(t, seq, rev)
		rev = seq
	}
	_, got, err := b.Get(ctx, "c.k")
	require.NoError(t, err)
	require.Equal(t, rev, got)
}
