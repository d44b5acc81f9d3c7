package verdictstream_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/verdictstream"
)

// verdictStream starts a server with the worker's VERDICTS stream and
// returns a JetStream context on it.
func verdictStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	js := natstest.JetStream(t, natstest.Start(t).ClientURL())
	cfg := worker.DefaultConfig()
	_, err := js.CreateStream(context.Background(), worker.StreamConfigs(&cfg)[1])
	require.NoError(t, err)
	return js
}

// verdicts returns n verdicts tx0..tx(n-1), decisions cycling approve,
// review, decline, tx3 and tx7 with a shadow entry.
func verdicts(from, n int) []contracts.Verdict {
	var vs []contracts.Verdict
	for i := from; i < from+n; i++ {
		vd := contracts.Verdict{
			SchemaVersion: contracts.VerdictSchemaV1, TransactionID: fmt.Sprintf("tx%d", i),
			Decision: contracts.Decisions[i%3], Score: float64(i) / 100, ModelVersion: "v1", PolicyVersion: "p1",
			ScoredAt: time.Date(2026, 12, 2, 10, 0, i, 0, time.UTC),
		}
		if i%4 == 3 {
			vd.Shadow = []contracts.ShadowResult{{ModelVersion: "v2", PolicyVersion: "p2", Score: 0.5, Decision: contracts.DecisionReview}}
		}
		vs = append(vs, vd)
	}
	return vs
}

// fill stores tx0..tx11, then a message on a non-verdict subject under the
// prefix and an undecodable one on a verdict subject, then tx12..tx14.
// Sequences: tx0..tx11 are 1..12, the two others 13 and 14, tx12..tx14 15..17.
func fill(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, verdicts(0, 12))
	_, err := js.Publish(ctx, contracts.SubjectVerdictsPrefix+"audit.note", []byte(`{"not":"a verdict"}`))
	require.NoError(t, err)
	_, err = js.Publish(ctx, contracts.SubjectVerdictsPrefix+"decline", []byte(`{"schema_version":"verdict.v1"}`))
	require.NoError(t, err)
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, verdicts(12, 3))
}

// got is what a Read delivered.
type got struct {
	ids  []string
	seqs []uint64
	meta []verdictstream.Meta
}

func read(t *testing.T, js jetstream.JetStream, o verdictstream.Options) (got, verdictstream.Stats) {
	t.Helper()
	var g got
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := verdictstream.Read(ctx, js, o, func(m verdictstream.Meta, vd *contracts.Verdict) error {
		g.ids = append(g.ids, vd.TransactionID)
		g.seqs = append(g.seqs, m.Sequence)
		g.meta = append(g.meta, m)
		return nil
	})
	require.NoError(t, err)
	return g, st
}

func ids(from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprintf("tx%d", i))
	}
	return s
}

func TestReadAll(t *testing.T) {
	js := verdictStream(t)
	fill(t, js)
	var bad []verdictstream.Meta
	g, st := read(t, js, verdictstream.Options{OnUndecodable: func(m verdictstream.Meta, err error) {
		var ve *contracts.ValidationError
		assert.ErrorAs(t, err, &ve)
		bad = append(bad, m)
	}})
	assert.Equal(t, ids(0, 14), g.ids, "the non-verdict subject is never delivered")
	assert.Equal(t, verdictstream.Stats{Verdicts: 15, Undecodable: 1, FirstSeq: 1, LastSeq: 17}, st)
	require.Len(t, bad, 1)
	assert.Equal(t, uint64(14), bad[0].Sequence)
	assert.Equal(t, "fraud.verdicts.decline", bad[0].Subject)
	m := g.meta[3]
	assert.Equal(t, "fraud.verdicts.approve", m.Subject)
	assert.Equal(t, uint64(4), m.Sequence)
	assert.Equal(t, uint64(12), m.Pending, "tx4..tx11, the undecodable one, tx12..tx14")
	assert.False(t, m.Stored.IsZero())
	assert.Equal(t, uint64(0), g.meta[14].Pending)
}

func TestReadShadowDecoded(t *testing.T) {
	js := verdictStream(t)
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, verdicts(0, 4))
	var shadows [][]contracts.ShadowResult
	_, err := verdictstream.Read(context.Background(), js, verdictstream.Options{}, func(_ verdictstream.Meta, vd *contracts.Verdict) error {
		shadows = append(shadows, vd.Shadow)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, [][]contracts.ShadowResult{nil, nil, nil, verdicts(3, 1)[0].Shadow}, shadows)
}

func TestReadLast(t *testing.T) {
	js := verdictStream(t)
	fill(t, js)
	g, st := read(t, js, verdictstream.Options{Last: 3})
	assert.Equal(t, ids(12, 14), g.ids)
	assert.Equal(t, []uint64{15, 16, 17}, g.seqs)
	assert.Equal(t, 3, st.Verdicts)

	// The last 5 selected messages span the two that are not verdicts.
	g, st = read(t, js, verdictstream.Options{Last: 5})
	assert.Equal(t, []string{"tx11", "tx12", "tx13", "tx14"}, g.ids, "the undecodable message is one of the five")
	assert.Equal(t, verdictstream.Stats{Verdicts: 4, Undecodable: 1, FirstSeq: 12, LastSeq: 17}, st)

	// Declines only (tx2, tx5, tx8, tx11, the undecodable one, tx14): the
	// start found by a binary search over the stream.
	g, _ = read(t, js, verdictstream.Options{Last: 2, Decisions: []contracts.Decision{contracts.DecisionDecline}})
	assert.Equal(t, []string{"tx14"}, g.ids)
	g, _ = read(t, js, verdictstream.Options{Last: 3, Decisions: []contracts.Decision{contracts.DecisionDecline}})
	assert.Equal(t, []string{"tx11", "tx14"}, g.ids)
	assert.Equal(t, []uint64{12, 17}, g.seqs)
	g, _ = read(t, js, verdictstream.Options{Last: 4, Decisions: []contracts.Decision{contracts.DecisionReview, contracts.DecisionApprove}})
	assert.Equal(t, []string{"tx9", "tx10", "tx12", "tx13"}, g.ids)

	// More than the stream holds: everything.
	g, _ = read(t, js, verdictstream.Options{Last: 1000})
	assert.Equal(t, ids(0, 14), g.ids)
}

func TestReadSince(t *testing.T) {
	js := verdictStream(t)
	fill(t, js)
	ctx := context.Background()
	stream, err := js.Stream(ctx, verdictstream.DefaultStream)
	require.NoError(t, err)
	since := func(seq uint64) time.Time {
		m, err := stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		return m.Time
	}
	// Expected: every verdict message stored at or after the time of
	// sequence 6 (equal timestamps, possible on a coarse clock, included).
	from := since(6)
	var want []string
	for seq := uint64(1); seq <= 17; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		var vd contracts.Verdict
		if !m.Time.Before(from) && contracts.DecodeVerdict(m.Data, &vd) == nil {
			want = append(want, vd.TransactionID)
		}
	}
	require.Contains(t, want, "tx5")
	g, _ := read(t, js, verdictstream.Options{Since: from})
	assert.Equal(t, want, g.ids)

	g, st := read(t, js, verdictstream.Options{Since: time.Now().Add(time.Hour)})
	assert.Empty(t, g.ids, "nothing stored in the future")
	assert.Equal(t, verdictstream.Stats{}, st)
}

func TestReadEmptyAndMissing(t *testing.T) {
	js := verdictStream(t)
	g, st := read(t, js, verdictstream.Options{})
	assert.Empty(t, g.ids)
	assert.Equal(t, verdictstream.Stats{}, st)
	g, _ = read(t, js, verdictstream.Options{Last: 10})
	assert.Empty(t, g.ids)

	_, err := verdictstream.Read(context.Background(), js, verdictstream.Options{Stream: "NOPE"}, nil)
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	for _, o := range []verdictstream.Options{
		{Last: 1, Since: time.Now()}, {Last: -1}, {Decisions: []contracts.Decision{"maybe"}},
		{New: true, Last: 1}, {New: true, Since: time.Now()},
	} {
		_, err = verdictstream.Read(context.Background(), js, o, nil)
		assert.ErrorIs(t, err, verdictstream.ErrOptions, "%+v", o)
	}
}

func TestReadStopAndHandlerError(t *testing.T) {
	js := verdictStream(t)
	fill(t, js)
	n := 0
	st, err := verdictstream.Read(context.Background(), js, verdictstream.Options{}, func(verdictstream.Meta, *contracts.Verdict) error {
		if n++; n == 2 {
			return verdictstream.ErrStop
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, st.Verdicts)

	boom := errors.New("boom")
	_, err = verdictstream.Read(context.Background(), js, verdictstream.Options{}, func(verdictstream.Meta, *contracts.Verdict) error { return boom })
	assert.ErrorIs(t, err, boom)
}

// Follow delivers what is stored after Read started, until ctx ends.
func TestReadFollow(t *testing.T) {
	js := verdictStream(t)
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, verdicts(0, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		_, err := verdictstream.Read(ctx, js, verdictstream.Options{Last: 1, Follow: true}, func(_ verdictstream.Meta, vd *contracts.Verdict) error {
			seen <- vd.TransactionID
			return nil
		})
		done <- err
	}()
	assert.Equal(t, "tx2", <-seen)
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, verdicts(3, 2))
	assert.Equal(t, "tx3", <-seen)
	assert.Equal(t, "tx4", <-seen)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

// New with Follow delivers only what is stored after Read started, of the
// selected decisions; New without Follow reads nothing.
func TestReadFollowNew(t *testing.T) {
	js := verdictStream(t)
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, verdicts(0, 3))
	g, st := read(t, js, verdictstream.Options{New: true})
	assert.Empty(t, g.ids)
	assert.Equal(t, verdictstream.Stats{}, st)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := make(chan string, 10)
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		_, err := verdictstream.Read(ctx, js, verdictstream.Options{New: true, Follow: true,
			Decisions: []contracts.Decision{contracts.DecisionDecline}}, func(_ verdictstream.Meta, vd *contracts.Verdict) error {
			seen <- vd.TransactionID
			return nil
		})
		done <- err
	}()
	// Read has started once the consumer exists; then publish.
	stream, err := js.Stream(ctx, verdictstream.DefaultStream)
	require.NoError(t, err)
	go func() {
		defer close(started)
		for ctx.Err() == nil {
			info, err := stream.Info(ctx)
			if err == nil && info.State.Consumers > 0 {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	<-started
	require.NoError(t, ctx.Err(), "Read never created its consumer")
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, verdicts(3, 6)) // tx5 and tx8 decline
	assert.Equal(t, "tx5", <-seen, "tx2, a decline stored before Read started, is not read")
	assert.Equal(t, "tx8", <-seen)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	assert.Empty(t, seen)
}

func TestAppendLine(t *testing.T) {
	vd := verdicts(2, 1)[0]
	vd.Score = 0.97314
	vd.ScoredAt = time.Date(2026, 12, 2, 11, 0, 1, 123456789, time.FixedZone("CET", 3600))
	assert.Equal(t, "2026-12-02T10:00:01.123Z  tx2  decline  0.9731  v1", string(verdictstream.AppendLine(nil, &vd)))
	vd.Reasons = []string{"HIGH_AMOUNT", "NEW_DEVICE"}
	assert.Equal(t, "> 2026-12-02T10:00:01.123Z  tx2  decline  0.9731  v1  HIGH_AMOUNT,NEW_DEVICE",
		string(verdictstream.AppendLine([]byte("> "), &vd)), "appended to what b holds")
}
