package archive_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker/archive"
)

// archiveStream creates the archive stream as the worker does (subjects,
// de-duplication by Msg-Id) and stores evs in it, one per transaction id,
// plus a message that is not an event.
func archiveStream(t *testing.T, js jetstream.JetStream, evs []contracts.TransactionEvent) {
	t.Helper()
	ctx := context.Background()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: archive.DefaultStream, Subjects: []string{contracts.SubjectArchive},
		Duplicates: time.Minute})
	require.NoError(t, err)
	for i := range evs {
		raw, err := json.Marshal(&evs[i])
		require.NoError(t, err)
		for range 2 { // a second publish is a duplicate
			_, err = js.PublishMsg(ctx, &nats.Msg{Subject: contracts.SubjectArchivePrefix + "card", Data: raw,
				Header: nats.Header{contracts.HeaderMsgID: []string{evs[i].TransactionID}}})
			require.NoError(t, err)
		}
	}
}

func ids(t *testing.T, js jetstream.JetStream, o archive.Options) ([]string, archive.Stats) {
	t.Helper()
	var got []string
	st, err := archive.Read(context.Background(), js, o, func(_ archive.Meta, ev *contracts.TransactionEvent) error {
		got = append(got, ev.TransactionID)
		return nil
	})
	require.NoError(t, err)
	return got, st
}

func TestRead(t *testing.T) {
	js := natstest.JetStream(t, natstest.Start(t).ClientURL())
	ctx := context.Background()
	_, err := archive.Read(ctx, js, archive.Options{}, func(archive.Meta, *contracts.TransactionEvent) error { return nil })
	assert.True(t, errors.Is(err, jetstream.ErrStreamNotFound), "missing stream: %v", err)

	g := synthetic.New(synthetic.Config{Seed: 3})
	evs := make([]contracts.TransactionEvent, 1203) // more than one fetch
	var want []string
	for i := range evs {
		evs[i], _ = g.Next()
		want = append(want, evs[i].TransactionID)
	}
	archiveStream(t, js, evs[:600])
	since := time.Now()
	archiveStream2 := func() {
		for i := 600; i < len(evs); i++ {
			raw, err := json.Marshal(&evs[i])
			require.NoError(t, err)
			_, err = js.Publish(ctx, contracts.SubjectArchivePrefix+"ecommerce", raw)
			require.NoError(t, err)
		}
	}
	archiveStream2()
	_, err = js.Publish(ctx, contracts.SubjectArchivePrefix+"card", []byte(`{"not":"an event"}`))
	require.NoError(t, err)

	got, st := ids(t, js, archive.Options{})
	assert.Equal(t, want, got, "every event once, in stream order")
	assert.Equal(t, archive.Stats{Events: len(evs), Undecodable: 1}, st)

	got, _ = ids(t, js, archive.Options{Last: 11})
	assert.Equal(t, want[len(want)-10:], got, "the last 11 messages: 10 events and the undecodable one")
	got, _ = ids(t, js, archive.Options{Since: since})
	assert.Equal(t, want[600:], got)
	got, _ = ids(t, js, archive.Options{Since: time.Now().Add(time.Hour)})
	assert.Empty(t, got)

	n := 0
	_, err = archive.Read(ctx, js, archive.Options{}, func(archive.Meta, *contracts.TransactionEvent) error {
		if n++; n == 5 {
			return archive.ErrStop
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	boom := errors.New("boom")
	_, err = archive.Read(ctx, js, archive.Options{}, func(archive.Meta, *contracts.TransactionEvent) error { return boom })
	assert.ErrorIs(t, err, boom)

	for _, o := range []archive.Options{{Last: -1}, {Last: 2, Since: since}} {
		_, err = archive.Read(ctx, js, o, func(archive.Meta, *contracts.TransactionEvent) error { return nil })
		assert.ErrorIs(t, err, archive.ErrOptions, "%+v", o)
	}
}

func TestFirstLabels(t *testing.T) {
	js := natstest.JetStream(t, natstest.Start(t).ClientURL())
	ctx := context.Background()
	_, err := archive.FirstLabels(ctx, js, archive.LabelOptions{})
	assert.True(t, errors.Is(err, jetstream.ErrStreamNotFound), "missing stream: %v", err)

	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "LABELS", Subjects: []string{contracts.SubjectLabels}})
	require.NoError(t, err)
	first, err := archive.FirstLabels(ctx, js, archive.LabelOptions{})
	require.NoError(t, err)
	assert.Empty(t, first)

	publish := func(id string, o contracts.Outcome, source, subject string) {
		t.Helper()
		raw, err := json.Marshal(contracts.Label{SchemaVersion: contracts.LabelSchemaV1, TransactionID: id, Label: o,
			Source: source, ReportedAt: time.Now().UTC()})
		require.NoError(t, err)
		_, err = js.Publish(ctx, subject, raw)
		require.NoError(t, err)
	}
	publish("t1", contracts.OutcomeFraud, "review", "fraud.labels.review")
	publish("t1", contracts.OutcomeLegit, "chargeback", "fraud.labels.chargeback") // contradicts: the first counts
	publish("t2", contracts.OutcomeLegit, "review", "fraud.labels.review")
	publish("t3", contracts.OutcomeFraud, "review", "fraud.labels.chargeback") // source is not the subject's: invalid
	_, err = js.Publish(ctx, "fraud.labels.review", []byte("not json"))
	require.NoError(t, err)
	first, err = archive.FirstLabels(ctx, js, archive.LabelOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]contracts.Outcome{"t1": contracts.OutcomeFraud, "t2": contracts.OutcomeLegit}, first)
}
