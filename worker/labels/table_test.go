package labels_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/labels"
)

func TestTableRows(t *testing.T) {
	tab := labels.NewTable()
	add := func(model, rule string, d contracts.Decision, o contracts.Outcome, n int) {
		for range n {
			tab.Add(labels.Entry{ModelVersion: model, Rule: rule, Decision: d}, o)
		}
	}
	add("v1", labels.RuleModel, contracts.DecisionDecline, contracts.OutcomeFraud, 3) // TP
	add("v1", labels.RuleModel, contracts.DecisionReview, contracts.OutcomeLegit, 1)  // FP
	add("v1", labels.RuleModel, contracts.DecisionApprove, contracts.OutcomeFraud, 1) // FN
	add("v1", labels.RuleModel, contracts.DecisionApprove, contracts.OutcomeLegit, 5) // TN
	add("v1", "cross_border", contracts.DecisionReview, contracts.OutcomeLegit, 2)    // FP
	add("v2", labels.RuleModel, contracts.DecisionApprove, contracts.OutcomeLegit, 1)
	rows := tab.Rows()
	require.Len(t, rows, 5)
	assert.Equal(t, labels.Row{ModelVersion: "v1", Labelled: 12, TP: 3, FP: 3, FN: 1, TN: 5, Review: 3, Decline: 3}, rows[0])
	assert.Equal(t, labels.RuleModel, rows[1].Rule, "the model's own decisions before the rules")
	assert.Equal(t, "cross_border", rows[2].Rule)
	assert.InDelta(t, 0.5, rows[0].Precision(), 1e-12)
	assert.InDelta(t, 0.75, rows[0].Recall(), 1e-12)
	assert.Equal(t, 0.0, rows[2].Precision(), "a rule that flagged only legit payments")
	assert.True(t, math.IsNaN(rows[2].Recall()), "no fraud behind the rule")
	assert.True(t, math.IsNaN(rows[3].Precision()), "v2 flagged nothing")
	tab.Results[labels.ResultUnknown] = 2
	var b bytes.Buffer
	require.NoError(t, tab.WriteText(&b))
	assert.Contains(t, b.String(), "cross_border")
	assert.Contains(t, b.String(), "labels: 15 read, 13 joined, 2 unknown transaction, 0 duplicate, 0 contradictory, 0 undecodable")
}

func TestKeyAndState(t *testing.T) {
	assert.NotEqual(t, labels.Key("a:b"), labels.Key("a.b"))
	assert.Regexp(t, `^[-_A-Za-z0-9]+$`, labels.Key("..x:y-z"), "a valid KV key whatever the id")
	st := labels.State{Label: contracts.OutcomeFraud, Seq: 7}
	got, err := labels.ParseState(st.Marshal())
	require.NoError(t, err)
	assert.Equal(t, st, got)
	_, err = labels.ParseState([]byte(`{}`))
	assert.ErrorIs(t, err, labels.ErrState)
	_, ok := labels.Second(st, contracts.OutcomeFraud, 7)
	assert.False(t, ok, "the label already counted, redelivered")
	r, _ := labels.Second(st, contracts.OutcomeFraud, 8)
	assert.Equal(t, labels.ResultDuplicate, r)
	r, _ = labels.Second(st, contracts.OutcomeLegit, 8)
	assert.Equal(t, labels.ResultContradictory, r)
	e := labels.EntryOf(&contracts.Verdict{ModelVersion: "v1", Decision: contracts.DecisionReview})
	assert.Equal(t, labels.RuleModel, e.Rule)
	got2, err := labels.ParseEntry(e.Marshal())
	require.NoError(t, err)
	assert.Equal(t, e, got2)
	_, err = labels.ParseEntry([]byte(`{"m":"v1","d":"maybe"}`))
	assert.ErrorIs(t, err, labels.ErrEntry)
}
