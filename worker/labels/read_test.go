package labels_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker/labels"
)

// TestReadManyBatches: Read goes through more labels than one request
// brings, joins those the index knows, counts the rest unknown, and ends
// even when the stream's last message was deleted.
func TestReadManyBatches(t *testing.T) {
	s := natstest.Start(t)
	js := natstest.JetStream(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: labels.DefaultStream, Subjects: []string{contracts.SubjectLabels}})
	require.NoError(t, err)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: labels.DefaultIndexBucket})
	require.NoError(t, err)
	const n = 1203
	entry := labels.Entry{ModelVersion: "v1", Rule: labels.RuleModel, Decision: contracts.DecisionReview}
	var scored int64
	for i := range n {
		id := fmt.Sprintf("t:%d", i)
		if i%3 != 0 { // a third never scored
			scored++
			_, err := kv.Put(ctx, labels.Key(id), entry.Marshal())
			require.NoError(t, err)
		}
		data, err := json.Marshal(&contracts.Label{SchemaVersion: contracts.LabelSchemaV1, TransactionID: id,
			Label: contracts.OutcomeFraud, Source: contracts.SourceReview, ReportedAt: time.Now().UTC()})
		require.NoError(t, err)
		_, err = js.Publish(ctx, contracts.LabelSubject(contracts.SourceReview), data)
		require.NoError(t, err)
	}
	ack, err := js.Publish(ctx, contracts.LabelSubject(contracts.SourceReview), []byte("gone"))
	require.NoError(t, err)
	st, err := js.Stream(ctx, labels.DefaultStream)
	require.NoError(t, err)
	require.NoError(t, st.DeleteMsg(ctx, ack.Sequence))

	tab, err := labels.Read(ctx, js, labels.ReadOptions{})
	require.NoError(t, err)
	require.Greater(t, n, 2*500, "more labels than two requests bring")
	assert.Equal(t, scored, tab.Results[labels.ResultJoined])
	assert.Equal(t, n-scored, tab.Results[labels.ResultUnknown])
	assert.Equal(t, scored, tab.Counts[labels.Cell{ModelVersion: "v1", Rule: labels.RuleModel,
		Decision: contracts.DecisionReview, Label: contracts.OutcomeFraud}])

	_, err = labels.Read(ctx, js, labels.ReadOptions{Stream: "NOPE"})
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
}
