package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

// tailVerdicts returns verdicts t<from>..t<from+n-1>, decisions cycling
// approve, review, decline, the declines with reasons.
func tailVerdicts(from, n int) []contracts.Verdict {
	var vs []contracts.Verdict
	for i := from; i < from+n; i++ {
		vd := contracts.Verdict{
			SchemaVersion: contracts.VerdictSchemaV1, TransactionID: fmt.Sprintf("t%02d", i),
			Decision: contracts.Decisions[i%3], Score: float64(i%3)/3 + 0.1, ModelVersion: champion, PolicyVersion: champion,
			ScoredAt: time.Date(2026, 12, 2, 10, 0, i, 0, time.UTC),
		}
		if vd.Decision == contracts.DecisionDecline {
			vd.Reasons = []string{"HIGH_AMOUNT", "NEW_DEVICE"}
		}
		vs = append(vs, vd)
	}
	return vs
}

// waitOutput waits (bounded) until p's output holds want and fails t if
// it does not or p exits first.
func waitOutput(t *testing.T, p *testenv.Process, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.Output(), want) {
		select {
		case <-p.Done():
			require.FailNow(t, "the process exited", "waiting for %q; output:\n%s", want, p.Output())
		default:
		}
		require.True(t, time.Now().Before(deadline), "no %q within 30s; output:\n%s", want, p.Output())
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

func TestVerdictsTailFollowsDeclines(t *testing.T) {
	url := verdictServer(t, tailVerdicts(0, 9)) // declines t02, t05, t08
	p := testenv.StartProcess(t, fraudscore(t), []string{"verdicts", "tail", "-url", url, "-last", "2", "-decision", "decline"}, nil)
	waitOutput(t, p, "t08")
	js := natstest.JetStream(t, url)
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, tailVerdicts(9, 3)) // t11 declines
	waitOutput(t, p, "t11")
	p.Signal(t, syscall.SIGINT)
	require.Equal(t, 0, p.WaitExit(t, 30*time.Second), "Ctrl-C is the normal end; output:\n%s", p.Output())
	assert.Equal(t, "2026-12-02T10:00:05.000Z  t05  decline  0.7667  "+champion+"  HIGH_AMOUNT,NEW_DEVICE\n"+
		"2026-12-02T10:00:08.000Z  t08  decline  0.7667  "+champion+"  HIGH_AMOUNT,NEW_DEVICE\n"+
		"2026-12-02T10:00:11.000Z  t11  decline  0.7667  "+champion+"  HIGH_AMOUNT,NEW_DEVICE\n", p.Output())
}

func TestVerdictsTailJSONFromNow(t *testing.T) {
	url := verdictServer(t, tailVerdicts(0, 3))
	p := testenv.StartProcess(t, fraudscore(t), []string{"verdicts", "tail", "-url", url, "-json", "-decision", "approve,review"}, nil)
	// Without -since or -last only verdicts stored from now on: wait until
	// the tail's consumer exists, then store more.
	js := natstest.JetStream(t, url)
	ctx := context.Background()
	stream, err := js.Stream(ctx, "VERDICTS")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.Consumers == 1
	}, 30*time.Second, 20*time.Millisecond, "the tail never created its consumer; output:\n%s", p.Output())
	natstest.PublishVerdicts(t, js, contracts.SubjectVerdictsPrefix, tailVerdicts(3, 3))
	waitOutput(t, p, `"t04"`)
	p.Signal(t, syscall.SIGINT)
	require.Equal(t, 0, p.WaitExit(t, 30*time.Second), p.Output())
	lines := strings.Split(strings.TrimSpace(p.Output()), "\n")
	require.Len(t, lines, 2, p.Output())
	for i, id := range []string{"t03", "t04"} {
		var vd contracts.Verdict
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &vd), lines[i])
		assert.Equal(t, id, vd.TransactionID)
		assert.Equal(t, tailVerdicts(3, 3)[i].Decision, vd.Decision)
	}
}

func TestVerdictsTailUsageAndErrors(t *testing.T) {
	r := runBin(t, "", nil, "verdicts", "tail", "--help")
	assert.Zero(t, r.code)
	assert.Contains(t, r.stdout, "usage: fraudscore verdicts tail [flags]")
	assert.Contains(t, r.stdout, "-decision")
	assert.Contains(t, r.stdout, "$FRAUDSCORE_NATS_URL")
	for _, args := range [][]string{
		{"-decision", "maybe"}, {"-since", "10m", "-last", "3"}, {"-since", "yesterday"}, {"-since", "-5m"},
		{"-last", "-1"}, {"extra"}, {"-nope"},
	} {
		r := runBin(t, "", nil, append([]string{"verdicts", "tail", "-url", "nats://127.0.0.1:1"}, args...)...)
		assert.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "usage: fraudscore verdicts tail", "%v", args)
	}
	r = runBin(t, "", nil, "verdicts")
	assert.Equal(t, 2, r.code)
	r = runBin(t, "", nil, "verdicts", "head")
	assert.Equal(t, 2, r.code)

	// A server without the stream: one line, exit 1.
	url := natstest.Start(t).ClientURL()
	r = runBin(t, "", nil, "verdicts", "tail", "-url", url)
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^fraudscore verdicts tail: verdictstream: stream VERDICTS: .*stream not found\n$`, r.stderr)
}
