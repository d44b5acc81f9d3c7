package main

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/deadletters"
	"github.com/fraudscore/fraudscore/worker/verdictstream"
)

const testPAN = "4111111111111111" // a test card number (passes Luhn)

// verdictCounts returns how many verdicts VERDICTS holds per transaction id.
func verdictCounts(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	got := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := verdictstream.Read(ctx, js, verdictstream.Options{}, func(_ verdictstream.Meta, vd *contracts.Verdict) error {
		got[vd.TransactionID]++
		return nil
	})
	require.NoError(t, err)
	return got
}

// streamState returns a stream's state.
func streamState(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamState {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State
}

// letters returns the dead letters the DLQ holds, by sequence.
func letters(t *testing.T, js jetstream.JetStream) []*deadletters.Letter {
	t.Helper()
	var ls []*deadletters.Letter
	_, err := deadletters.Read(context.Background(), js, deadletters.Selection{}, func(l *deadletters.Letter) error {
		ls = append(ls, l)
		return nil
	})
	require.NoError(t, err)
	return ls
}

// waitScored waits (bounded) until every id in ids has a verdict and the
// worker has taken everything from the input stream.
func waitScored(t *testing.T, js jetstream.JetStream, ids []string) {
	t.Helper()
	require.Eventually(t, func() bool {
		got := verdictCounts(t, js)
		for _, id := range ids {
			if got[id] == 0 {
				return false
			}
		}
		return streamState(t, js, "TRANSACTIONS").Msgs == 0
	}, 60*time.Second, 50*time.Millisecond, "the replayed transactions were not all scored")
}

// Replaying dead letters with a real worker: a dry run and a refused
// confirmation publish nothing; a replay gets each transaction its verdict;
// replaying again at once and after the verdicts are stored never makes a
// second verdict; a letter whose payload is not an event is refused with
// one line and nothing published; -delete removes only the settled letters.
//
// The poison letters are dead-lettered by the worker itself. The letters of
// valid events are stored as the worker's max-deliveries path stores them
// (natstest.PublishDeadLetters): making a real worker fail MaxDeliver
// times takes a verdict store outage, which the chaos suite covers.
func TestDLQReplayIsIdempotentWithARealWorker(t *testing.T) {
	_, _, url := readyWorker(t)
	js := natstest.JetStream(t, url)
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	for _, poison := range []string{"not json", `{"transaction_id":"tx-poison","amount_minor":-5}`} {
		_, err := js.Publish(context.Background(), "payments.transactions.card", []byte(poison))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return streamState(t, js, "FRAUD_DLQ").Msgs == 2 }, 60*time.Second, 50*time.Millisecond)
	evs := synthEvents(synthetic.Config{Seed: 11, Now: time.Now, IDPrefix: "replay-"}, 5)
	var dls []natstest.DeadLetter
	var ids []string
	for i := range evs {
		data, err := json.Marshal(&evs[i])
		require.NoError(t, err)
		dls = append(dls, natstest.DeadLetter{Reason: contracts.ReasonMaxDeliveries, Data: data})
		ids = append(ids, evs[i].TransactionID)
	}
	natstest.PublishDeadLetters(t, js, contracts.SubjectDeadLettersPrefix, dls)
	inputBefore := streamState(t, js, "TRANSACTIONS").LastSeq
	replay := func(stdin string, args ...string) result {
		return runBin(t, stdin, nil, append([]string{"dlq", "replay", "-url", url}, args...)...)
	}

	r := replay("", "-reason", "max_deliveries", "-dry-run")
	require.Zero(t, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "dry run, nothing published:\n")
	assert.Contains(t, r.stdout, "5 dead letters: ready 5\n")
	assert.Regexp(t, `seq 3\s+replay-\S+\s+max_deliveries\s+ready: to payments.transactions.card\n`, r.stdout)
	r = replay("n\n", "-reason", "max_deliveries")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "Publish 5 dead letters to their input subjects? [y/N] ")
	assert.Contains(t, r.stderr, "fraudscore dlq replay: not confirmed; nothing published or deleted\n")
	assert.Equal(t, inputBefore, streamState(t, js, "TRANSACTIONS").LastSeq, "nothing published")

	r = replay("y\n", "-reason", "max_deliveries")
	require.Zero(t, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "5 dead letters: replayed 5\n")
	// At once again: each is a duplicate at the input or has its verdict.
	r = replay("", "-reason", "max_deliveries", "-yes")
	require.Zero(t, r.code, r.stdout+r.stderr)
	again := regexp.MustCompile(`(?m)^seq \d+\s+replay-\S+\s+max_deliveries\s+(duplicate|skipped: verdict exists): `).FindAllString(r.stdout, -1)
	assert.Len(t, again, 5, r.stdout)
	waitScored(t, js, ids)
	// After the verdicts: every one skipped, nothing published.
	inputLast := streamState(t, js, "TRANSACTIONS").LastSeq
	r = replay("", "-reason", "max_deliveries", "-yes")
	require.Zero(t, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "5 dead letters: skipped: verdict exists 5\n")
	assert.NotContains(t, r.stderr, "Publish", "nothing to confirm")
	assert.Equal(t, inputLast, streamState(t, js, "TRANSACTIONS").LastSeq)
	counts := verdictCounts(t, js)
	for _, id := range ids {
		assert.Equal(t, 1, counts[id], "verdicts of %s", id)
	}
	assert.Equal(t, inputBefore+5, inputLast, "each transaction was stored in the input once")

	// The worker's own poison letters: not events, never published.
	ls := letters(t, js)
	require.Len(t, ls, 7)
	var malformed []uint64
	for _, l := range ls[:2] { // the worker stored them in either order
		if l.Reason == contracts.ReasonMalformed {
			malformed = append(malformed, l.Sequence)
		}
	}
	require.Len(t, malformed, 1)
	seq := strconv.FormatUint(malformed[0], 10)
	r = replay("", "-seq", seq, "-yes")
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^seq `+seq+`\s+-\s+malformed\s+still invalid: malformed: invalid JSON`, r.stdout)
	assert.Equal(t, "fraudscore dlq replay: 1 of 1 selected dead letters cannot be replayed (see the lines above)\n", r.stderr)
	r = replay("", "-id", "tx-poison", "-yes")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "still invalid: invalid: schema_version: required")
	assert.Equal(t, inputLast, streamState(t, js, "TRANSACTIONS").LastSeq, "nothing published")

	// -delete: the settled letters go, the poison stays.
	r = replay("", "-since", "1h", "-yes", "-delete")
	assert.Equal(t, 1, r.code, "the poison is still unresolved")
	assert.Equal(t, 5, strings.Count(r.stdout, "(dead letter deleted)"), r.stdout)
	ls = letters(t, js)
	require.Len(t, ls, 2)
	assert.ElementsMatch(t, []string{"malformed", "invalid"}, []string{ls[0].Reason, ls[1].Reason})
	assert.Equal(t, inputLast, streamState(t, js, "TRANSACTIONS").LastSeq)
}

// dlqServer starts a server with the worker's streams and dead letters
// stored in the DLQ, and returns its URL.
func dlqServer(t *testing.T, dls []natstest.DeadLetter) (string, jetstream.JetStream) {
	t.Helper()
	url := natstest.Start(t).ClientURL()
	js := natstest.JetStream(t, url)
	cfg := worker.DefaultConfig()
	for _, sc := range worker.StreamConfigs(&cfg) {
		_, err := js.CreateStream(context.Background(), sc)
		require.NoError(t, err)
	}
	natstest.PublishDeadLetters(t, js, contracts.SubjectDeadLettersPrefix, dls)
	return url, js
}

func TestDLQListAndShow(t *testing.T) {
	url, _ := dlqServer(t, []natstest.DeadLetter{
		{Reason: "invalid", TransactionID: "tx-1", Data: []byte(`{"transaction_id":"tx-1","card_token":"` + testPAN + `"}`)},
		{Reason: "malformed", Data: []byte("oops")},
		{Reason: "invalid", TransactionID: "tx-2", Data: []byte(`{"transaction_id":"tx-2"}`)},
	})
	r := runBin(t, "", nil, "dlq", "list", "-url", url)
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `^stream FRAUD_DLQ: 3 dead letters \(ages at \S+\)\n`, r.stdout)
	assert.Regexp(t, `\n\s*invalid\s+2\s+2\s+0\s+0\s+20\d\d-`, r.stdout)
	assert.Regexp(t, `\n\s*malformed\s+1\s+1\s+0\s+0\s+20\d\d-`, r.stdout)

	r = runBin(t, "", nil, "dlq", "list", "-url", url, "-json", "-reason", "malformed")
	require.Zero(t, r.code, r.stderr)
	var sum deadletters.Summary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	assert.Equal(t, 1, sum.Total)
	require.Len(t, sum.Reasons, 1)
	assert.Equal(t, "malformed", sum.Reasons[0].Reason)

	r = runBin(t, "", nil, "dlq", "show", "-url", url, "-id", "tx-1")
	require.Zero(t, r.code, r.stderr)
	assert.NotContains(t, r.stdout, testPAN)
	assert.Contains(t, r.stdout, `"card_token":"411111******1111"`)
	assert.Contains(t, r.stdout, "Fraudscore-Dlq-Reason: invalid\n")
	assert.Contains(t, r.stdout, "1 card numbers masked")
	r = runBin(t, "", nil, "dlq", "show", "-url", url, "-seq", "2")
	require.Zero(t, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "sequence 2 on fraud.dlq.malformed, stored "), r.stdout)
	assert.Contains(t, r.stdout, "\noops\n")

	r = runBin(t, "", nil, "dlq", "show", "-url", url, "-seq", "9")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "fraudscore dlq show: deadletters: not found: no dead letter in FRAUD_DLQ with sequence 9\n", r.stderr)
	assert.Empty(t, r.stdout)
}

func TestDLQUsageAndErrors(t *testing.T) {
	for _, cmd := range []string{"list", "show", "replay"} {
		r := runBin(t, "", nil, "dlq", cmd, "--help")
		assert.Zero(t, r.code)
		assert.Contains(t, r.stdout, "usage: fraudscore dlq "+cmd)
		assert.Contains(t, r.stdout, "$FRAUDSCORE_NATS_URL")
		assert.Contains(t, r.stdout, "$FRAUDSCORE_DLQ_STREAM")
	}
	r := runBin(t, "", nil, "help", "dlq", "replay")
	assert.Zero(t, r.code)
	assert.Contains(t, r.stdout, "-dry-run")
	for _, args := range [][]string{
		{"list", "-reason", "bored"}, {"list", "-since", "later"}, {"list", "x"},
		{"show"}, {"show", "-seq", "1", "-id", "x"}, {"show", "-seq", "x"},
		{"replay"}, {"replay", "-yes"}, {"replay", "-seq", "0"}, {"replay", "-seq", "a,2"}, {"replay", "-reason", "invalid", "-dry-run", "-delete"},
		{"replay", "-reason", "nope"}, {"replay", "-since", "-1h"}, {"replay", "-id", "x", "-lookback", "-1s"},
	} {
		r := runBin(t, "", nil, append([]string{"dlq"}, append(args, "-url", "nats://127.0.0.1:1")...)...)
		assert.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "usage: fraudscore dlq "+args[0], "%v", args)
	}
	assert.Equal(t, 2, runBin(t, "", nil, "dlq").code)
	assert.Equal(t, 2, runBin(t, "", nil, "dlq", "purge").code)

	// No streams at all: one line, exit 1, nothing published.
	url := natstest.Start(t).ClientURL()
	for _, args := range [][]string{{"list"}, {"show", "-seq", "1"}, {"replay", "-reason", "invalid", "-yes"}} {
		r := runBin(t, "", nil, append([]string{"dlq"}, append(args, "-url", url)...)...)
		assert.Equal(t, 1, r.code, "%v", args)
		assert.Regexp(t, `^fraudscore dlq \w+: deadletters: stream FRAUD_DLQ: .*stream not found\n$`, r.stderr, "%v", args)
	}

	// A DLQ but no verdict stream: replay cannot check for verdicts, so it
	// publishes nothing.
	evs := synthEvents(synthetic.Config{Seed: 2, Now: time.Now}, 1)
	data, err := json.Marshal(&evs[0])
	require.NoError(t, err)
	js := natstest.JetStream(t, url)
	cfg := worker.DefaultConfig()
	for _, sc := range worker.StreamConfigs(&cfg) {
		if sc.Name != "VERDICTS" {
			_, err := js.CreateStream(context.Background(), sc)
			require.NoError(t, err)
		}
	}
	natstest.PublishDeadLetters(t, js, contracts.SubjectDeadLettersPrefix, []natstest.DeadLetter{{Reason: "max_deliveries", Data: data}})
	r = runBin(t, "", nil, "dlq", "replay", "-url", url, "-reason", "max_deliveries", "-yes")
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^fraudscore dlq replay: deadletters: look for existing verdicts: verdictstream: stream VERDICTS: .*stream not found\n$`, r.stderr)
	assert.Zero(t, streamState(t, js, "TRANSACTIONS").Msgs, "nothing published")
}

// A user who may read the streams' info but not create consumers (the
// dashboard of docs/security.md) gets one line and exit 1 from verdicts
// tail, dlq list and dlq replay; a user who may not publish to the input
// gets every letter failed and nothing stored.
func TestToolsWithoutPermission(t *testing.T) {
	opts := natstest.ServerOptions(t)
	readOnly := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"$JS.API.INFO", "$JS.API.STREAM.INFO.>", "$JS.API.STREAM.MSG.GET.>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
	noInput := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"$JS.API.>", "_INBOX.>"}, Deny: []string{"payments.>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
	opts.Users = []*server.User{
		{Username: "admin", Password: "admin-secret"},
		{Username: "reader", Password: "reader-secret", Permissions: readOnly},
		{Username: "noinput", Password: "noinput-secret", Permissions: noInput},
	}
	srv := natstest.StartOptions(t, opts)
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("admin", "admin-secret"))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cfg := worker.DefaultConfig()
	for _, sc := range worker.StreamConfigs(&cfg) {
		_, err := js.CreateStream(context.Background(), sc)
		require.NoError(t, err)
	}
	evs := synthEvents(synthetic.Config{Seed: 4, Now: time.Now}, 1)
	data, err := json.Marshal(&evs[0])
	require.NoError(t, err)
	natstest.PublishDeadLetters(t, js, contracts.SubjectDeadLettersPrefix, []natstest.DeadLetter{{Reason: "max_deliveries", Data: data}})
	dir := t.TempDir()
	pw := func(user string) string {
		p := dir + "/" + user
		require.NoError(t, os.WriteFile(p, []byte(user+"-secret\n"), 0o600))
		return p
	}
	as := func(user string, args ...string) result {
		return runBin(t, "", nil, append(args, "-url", srv.ClientURL(), "-user", user, "-password-file", pw(user))...)
	}
	for _, args := range [][]string{
		{"verdicts", "tail", "-last", "1"}, {"dlq", "list"}, {"dlq", "replay", "-reason", "max_deliveries", "-yes"},
	} {
		r := as("reader", args...)
		assert.Equal(t, 1, r.code, "%v: %s", args, r.stdout)
		assert.Regexp(t, `^fraudscore (verdicts tail|dlq list|dlq replay): .*: context deadline exceeded `+
			`\(nats: permissions violation: Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.CREATE\.(VERDICTS|FRAUD_DLQ)\.[^"]+"\)\n$`, r.stderr, "%v", args)
	}
	r := as("noinput", "dlq", "replay", "-reason", "max_deliveries", "-yes")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "1 dead letters: failed 1\n")
	assert.Zero(t, streamState(t, js, "TRANSACTIONS").Msgs, "nothing stored")
}
