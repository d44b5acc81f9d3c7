package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/synthetic"
)

func TestScoreUsage(t *testing.T) {
	r := runBin(t, "", nil, "score", "--help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "usage: fraudscore score [flags] [FILE|-]")
	assert.Contains(t, r.stdout, "-timeout")
	assert.Contains(t, r.stdout, "$FRAUDSCORE_NATS_CREDS_FILE")
	for _, args := range [][]string{
		{"score", "a", "b"},
		{"score", "-timeout", "0s", "-"},
		{"score", "-timeout", "soon"},
		{"score", "-no-such-flag"},
		{"score", "-user", "u"}, // a user without a password file
	} {
		r := runBin(t, "", nil, args...)
		assert.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "usage: fraudscore score", "%v", args)
		assert.Empty(t, r.stdout, "%v", args)
	}
}

func TestScoreAgainstAWorker(t *testing.T) {
	_, _, natsURL := readyWorker(t)
	evs := synthEvents(synthetic.Config{Seed: 12, Now: time.Now, IDPrefix: "cli-score-"}, 3)
	lines := make([]string, len(evs))
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		require.NoError(t, err)
		lines[i] = string(b)
	}
	url := "-url=" + natsURL

	t.Run("one event from a file", func(t *testing.T) {
		var pretty map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &pretty))
		doc, err := json.MarshalIndent(pretty, "", "  ")
		require.NoError(t, err)
		file := filepath.Join(t.TempDir(), "event.json")
		require.NoError(t, os.WriteFile(file, doc, 0o600))
		r := runBin(t, "", nil, "score", url, file)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, r.stderr)
		vds := verdictLines(t, r.stdout)
		require.Len(t, vds, 1)
		assert.Equal(t, evs[0].TransactionID, vds[0].TransactionID)
		assert.Equal(t, testenv.BundledVersion(t), vds[0].ModelVersion)
	})

	t.Run("NDJSON on stdin with an invalid event", func(t *testing.T) {
		var bad map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[1]), &bad))
		bad["currency"] = "XXX"
		b, err := json.Marshal(bad)
		require.NoError(t, err)
		in := lines[0] + "\n" + string(b) + "\n" + lines[2] + "\n"
		r := runBin(t, in, nil, "score", url, "-")
		assert.Equal(t, 1, r.code, "an error reply fails the run")
		vds := verdictLines(t, r.stdout)
		require.Len(t, vds, 2, "the events after the error are still sent")
		assert.Equal(t, evs[0].TransactionID, vds[0].TransactionID)
		assert.Equal(t, evs[2].TransactionID, vds[1].TransactionID)
		errLines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		require.Len(t, errLines, 2, r.stderr)
		assert.Regexp(t, `^line 2: service error 400: .*currency`, errLines[0])
		assert.Equal(t, "fraudscore score: scoreclient: service error: 1 of 3 events", errLines[1])
	})

	t.Run("one invalid event: one line", func(t *testing.T) {
		r := runBin(t, "not json\n", nil, "score", url)
		assert.Equal(t, 1, r.code)
		assert.Empty(t, r.stdout)
		assert.Regexp(t, `^line 1: service error 400: [^\n]+\n$`, r.stderr)
	})

	t.Run("environment", func(t *testing.T) {
		r := runBin(t, lines[2], []string{"FRAUDSCORE_NATS_URL=" + natsURL}, "score")
		require.Equal(t, 0, r.code, r.stderr)
		require.Len(t, verdictLines(t, r.stdout), 1)
	})

	t.Run("no service on the subject", func(t *testing.T) {
		r := runBin(t, lines[0], nil, "score", url, "-subject", "fraud.nobody", "-timeout", "2s")
		assert.Equal(t, 1, r.code)
		assert.Empty(t, r.stdout)
		assert.Equal(t, "fraudscore score: line 1: scoreclient: no score service answered on fraud.nobody\n", r.stderr)
	})
}

func TestScoreConnectionErrors(t *testing.T) {
	r := runBin(t, "{}", nil, "score", "-url", "nats://"+testenv.FreeAddr(t))
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Regexp(t, `^fraudscore score: worker: connect to nats://127\.0\.0\.1:\d+: [^\n]+\n$`, r.stderr)

	r = runBin(t, "", nil, "score", filepath.Join(t.TempDir(), "missing.json"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "missing.json: no such file")
}

// verdictLines decodes stdout of fraudscore score: one verdict per line.
func verdictLines(t *testing.T, stdout string) []contracts.Verdict {
	t.Helper()
	var out []contracts.Verdict
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if l == "" {
			continue
		}
		var vd contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict([]byte(l), &vd), "line %q", l)
		out = append(out, vd)
	}
	return out
}
