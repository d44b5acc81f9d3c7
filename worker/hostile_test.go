package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker"
)

// hostileDir holds the hostile-input corpus: cases.json and one payload file
// per case (docs/security.md describes what each case proves).
const hostileDir = "testdata/hostile"

// hostileCase is one entry of testdata/hostile/cases.json.
type hostileCase struct {
	Name    string `json:"name"`
	Proves  string `json:"proves"`
	Payload string `json:"payload"` // file in hostileDir
	// Generate names a payload too large to commit, made by the test:
	// "oversized" (one byte over the worker's MaxPayload, the card number at
	// its end), "beyond_server_max_payload", "nested".
	Generate    string            `json:"generate"`
	Subject     string            `json:"subject"`      // after payments.transactions.; "card" when empty
	LongSubject int               `json:"long_subject"` // a subject token (and reply subject) of this many bytes
	Headers     map[string]string `json:"headers"`
	CardNumbers []string          `json:"card_numbers"`
	Async       struct {
		DeadLetter  string `json:"dead_letter"`  // the reason of its one dead letter
		Redacted    *bool  `json:"redacted"`     // whether that dead letter is marked redacted
		Refused     int    `json:"refused"`      // or: JetStream refuses the publish with this API error code
		ClientError string `json:"client_error"` // or: the client refuses to send it
	} `json:"async"`
	Request struct {
		Code          string `json:"code"` // the 4xx of its one error reply
		ClientError   string `json:"client_error"`
		NotApplicable string `json:"not_applicable"` // why the case has no request form
	} `json:"request"`
}

func loadHostileCorpus(t *testing.T) []hostileCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(hostileDir, "cases.json"))
	require.NoError(t, err)
	var corpus struct {
		Cases []hostileCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(raw, &corpus))
	require.NotEmpty(t, corpus.Cases)
	// Every payload file belongs to a case, and every case says what it
	// proves and what must happen on both paths.
	files, err := filepath.Glob(filepath.Join(hostileDir, "*"))
	require.NoError(t, err)
	used := map[string]bool{"cases.json": true}
	for _, c := range corpus.Cases {
		used[c.Payload] = true
		require.NotEmpty(t, c.Proves, c.Name)
		require.True(t, (c.Payload == "") != (c.Generate == ""), "%s: payload or generate", c.Name)
		require.True(t, c.Async.DeadLetter != "" || c.Async.Refused != 0 || c.Async.ClientError != "", "%s: async outcome", c.Name)
		require.True(t, c.Request.Code != "" || c.Request.ClientError != "" || c.Request.NotApplicable != "", "%s: request outcome", c.Name)
		if c.Request.Code != "" {
			require.Equal(t, byte('4'), c.Request.Code[0], "%s: a hostile request ends in a 4xx", c.Name)
		}
	}
	for _, f := range files {
		assert.True(t, used[filepath.Base(f)], "%s is in no case", f)
	}
	return corpus.Cases
}

// payload returns the case's bytes, reading or generating them.
func (c *hostileCase) payload(t *testing.T, cfg *worker.Config, serverMax int64) []byte {
	t.Helper()
	switch c.Generate {
	case "":
		b, err := os.ReadFile(filepath.Join(hostileDir, c.Payload))
		require.NoError(t, err)
		return b
	case "oversized":
		require.Len(t, c.CardNumbers, 1)
		head, tail := `{"schema_version":"transaction_event.v1","x_pad":"`, " "+c.CardNumbers[0]+`"}`
		pad := cfg.MaxPayload + 1 - len(head) - len(tail)
		return []byte(head + strings.Repeat("x", pad) + tail)
	case "beyond_server_max_payload":
		return bytes.Repeat([]byte("x"), int(serverMax)+1)
	case "nested":
		depth := 50 * contracts.MaxNestingDepth
		return []byte(`{"schema_version":"transaction_event.v1","x_nested":` +
			strings.Repeat("[", depth) + strings.Repeat("]", depth) + "}")
	}
	t.Fatalf("%s: unknown generator %q", c.Name, c.Generate)
	return nil
}

func (c *hostileCase) subject() string {
	switch {
	case c.LongSubject > 0:
		return contracts.SubjectTransactionsPrefix + strings.Repeat("x", c.LongSubject)
	case c.Subject != "":
		return contracts.SubjectTransactionsPrefix + c.Subject
	}
	return contracts.SubjectTransactionsPrefix + "card"
}

func (c *hostileCase) header() nats.Header {
	if len(c.Headers) == 0 {
		return nil
	}
	h := nats.Header{}
	for k, v := range c.Headers {
		h[k] = []string{v} // as given: no canonical form
	}
	return h
}

// TestHostileInput publishes every case of the hostile corpus on the
// stream path and sends it to the score endpoint of one running worker
// (embedded nats-server, bundled model). Each case ends as exactly one dead
// letter (read back from the dead-letter stream by sequence) or is refused
// before it is stored, and as exactly one 4xx error reply; no verdict is
// stored; the worker stays ready. Then every stream, reply, log line, the
// metrics, the service stats and the server's store files are searched for
// the corpus's card numbers.
func TestHostileInput(t *testing.T) {
	cases := loadHostileCorpus(t)
	cfg := testConfig(t)
	cfg.AuditRequests = true // a request-reply verdict would be stored too, and seen
	cfg.Concurrency = 4      // one goroutine is held on the sentinel
	cfg.AckWait = time.Minute
	cfg.DrainTimeout = 2 * time.Second // the end stops the worker with the server gone: nothing left to drain
	s := natstest.Start(t)
	var logs testenv.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// A valid sentinel transaction is held in scoring until the end, so the
	// input stream's store block stays alive around the hostile inputs: what
	// their removal leaves in it is what the store sweep reads.
	hold := &holdScorer{inner: newScorer(t), id: "hx_sentinel", held: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(hold.letGo)
	r := launchWorkerLogging(t, s.ClientURL(), cfg, hold, worker.SetupRetry{}, log)
	require.Eventually(t, func() bool { return r.w.Ready() == nil }, 20*time.Second, 20*time.Millisecond, "worker never ready")
	nc, js := connect(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sentinel := events(14, 1)[0]
	sentinel.TransactionID = hold.id
	natstest.PublishEvents(t, js, contracts.SubjectTransactionsPrefix+"sentinel", []contracts.TransactionEvent{sentinel})
	select {
	case <-hold.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the sentinel never reached the scorer")
	}

	side := worker.SideHandler(r.reg, []worker.Checker{r.w.Healthy}, []worker.Checker{r.w.Ready})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		side.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	// Readiness is sampled all along, from before the first case until the
	// last one is done.
	var notReady []string
	var mu sync.Mutex
	stopProbe := make(chan struct{})
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if code, body := get("/readyz"); code != http.StatusOK {
				mu.Lock()
				notReady = append(notReady, strconv.Itoa(code)+" "+body)
				mu.Unlock()
			}
			select {
			case <-stopProbe:
				return
			case <-tick.C:
			}
		}
	}()

	input, err := js.Stream(ctx, cfg.Stream)
	require.NoError(t, err)
	lastSeq := func() uint64 {
		info, err := input.Info(ctx)
		require.NoError(t, err)
		return info.State.LastSeq
	}

	// The stream path: publish every case and note what JetStream did.
	seqOf := map[string]uint64{} // case -> input stream sequence
	payloads := map[string][]byte{}
	var cards []string
	for i := range cases {
		c := &cases[i]
		cards = append(cards, c.CardNumbers...)
		data := c.payload(t, cfg, nc.MaxPayload())
		payloads[c.Name] = data
		before := lastSeq()
		ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: c.subject(), Data: data, Header: c.header()})
		switch {
		case c.Async.DeadLetter != "":
			require.NoError(t, err, c.Name)
			seqOf[c.Name] = ack.Sequence
		case c.Async.Refused != 0:
			var apiErr *jetstream.APIError
			require.ErrorAs(t, err, &apiErr, c.Name)
			assert.Equal(t, jetstream.ErrorCode(c.Async.Refused), apiErr.ErrorCode, "%s: %v", c.Name, err)
			assert.Equal(t, before, lastSeq(), "%s: refused, yet stored", c.Name)
		default:
			require.Error(t, err, c.Name)
			assert.Contains(t, err.Error(), c.Async.ClientError, c.Name)
			assert.Equal(t, before, lastSeq(), "%s: never sent, yet stored", c.Name)
		}
	}
	waitCount(t, js, cfg.DLQStream, uint64(len(seqOf)), time.Minute)
	require.Eventually(t, func() bool { return streamCount(t, js, cfg.Stream) == 1 }, 30*time.Second, 20*time.Millisecond,
		"every input but the held sentinel is dead-lettered and removed")

	// The request-reply path: one error reply per case.
	var replies []*nats.Msg
	for i := range cases {
		c := &cases[i]
		msg := &nats.Msg{Subject: cfg.ScoreSubject, Data: payloads[c.Name], Header: c.header()}
		switch {
		case c.Request.NotApplicable != "":
			t.Logf("%s: no request form: %s", c.Name, c.Request.NotApplicable)
			continue
		case c.Request.ClientError != "":
			_, err := nc.RequestMsg(msg, 5*time.Second)
			require.Error(t, err, c.Name)
			assert.Contains(t, err.Error(), c.Request.ClientError, c.Name)
			continue
		}
		var resp *nats.Msg
		if c.LongSubject > 0 {
			// The reply goes to a reply subject as long as the case's subject.
			msg.Reply = "_INBOX." + strings.Repeat("y", c.LongSubject)
			sub, err := nc.SubscribeSync(msg.Reply)
			require.NoError(t, err)
			require.NoError(t, nc.PublishMsg(msg))
			resp, err = sub.NextMsg(5 * time.Second)
			require.NoError(t, err, c.Name)
			require.NoError(t, sub.Unsubscribe())
		} else {
			resp, err = nc.RequestMsg(msg, 5*time.Second)
			require.NoError(t, err, c.Name)
		}
		replies = append(replies, resp)
		assert.Equal(t, c.Request.Code, resp.Header.Get(micro.ErrorCodeHeader), "%s: %s", c.Name, resp.Header.Get(micro.ErrorHeader))
		assert.NotEmpty(t, resp.Header.Get(micro.ErrorHeader), c.Name)
		assert.Empty(t, resp.Data, "%s: an error reply carries no verdict", c.Name)
	}
	stats, err := nc.Request("$SRV.STATS."+cfg.ServiceName, nil, 5*time.Second)
	require.NoError(t, err)
	replies = append(replies, stats)

	close(stopProbe)
	<-probeDone
	assert.Empty(t, notReady, "the worker was not ready at some point")
	code, _ := get("/readyz")
	require.Equal(t, http.StatusOK, code)
	_, metrics := get("/metrics")

	// Exactly one dead letter per stored case, read back by sequence.
	dlq, err := js.Stream(ctx, cfg.DLQStream)
	require.NoError(t, err)
	dlqInfo, err := dlq.Info(ctx)
	require.NoError(t, err)
	bySeq := map[uint64][]*jetstream.RawStreamMsg{}
	for seq := dlqInfo.State.FirstSeq; seq <= dlqInfo.State.LastSeq && dlqInfo.State.Msgs > 0; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		require.NoError(t, err)
		in, err := strconv.ParseUint(m.Header.Get(contracts.HeaderDLQStreamSeq), 10, 64)
		require.NoError(t, err)
		bySeq[in] = append(bySeq[in], m)
	}
	assert.Equal(t, uint64(len(seqOf)), dlqInfo.State.Msgs, "dead letters")
	for i := range cases {
		c := &cases[i]
		seq, ok := seqOf[c.Name]
		if !ok {
			continue
		}
		dls := bySeq[seq]
		if !assert.Len(t, dls, 1, "%s: dead letters of input %d", c.Name, seq) {
			continue
		}
		dl := dls[0]
		orig := payloads[c.Name]
		reason := dl.Header.Get(contracts.HeaderDLQReason)
		assert.Equal(t, c.Async.DeadLetter, reason, "%s: %s", c.Name, dl.Header.Get(contracts.HeaderDLQDetail))
		assert.Equal(t, cfg.DLQPrefix+reason, dl.Subject, c.Name)
		assert.NotEmpty(t, dl.Header.Get(contracts.HeaderDLQDetail), c.Name)
		assert.False(t, contracts.ContainsPAN(dl.Data), "%s: the stored payload looks like it holds a card number", c.Name)
		if contracts.ContainsPAN(orig) {
			want, _ := contracts.RedactPANs(orig)
			assert.Equal(t, string(want), string(dl.Data), "%s: the stored payload is the original, masked", c.Name)
			assert.Equal(t, contracts.RedactedPAN, dl.Header.Get(contracts.HeaderRedacted), c.Name)
		} else {
			assert.Equal(t, string(orig), string(dl.Data), "%s: nothing to mask: the original payload", c.Name)
		}
		if c.Async.Redacted != nil {
			assert.Equal(t, *c.Async.Redacted, dl.Header.Get(contracts.HeaderRedacted) != "", "%s: %s header", c.Name, contracts.HeaderRedacted)
		}
		if c.LongSubject > 0 {
			assert.Equal(t, c.subject(), dl.Header.Get(contracts.HeaderDLQSubject), c.Name)
		}
	}
	assert.Zero(t, streamCount(t, js, cfg.VerdictStream), "a hostile input got a verdict")
	assert.Equal(t, uint64(1), streamCount(t, js, cfg.Stream), "the held sentinel is the input stream's only message")

	// The sweep: no card number of the corpus anywhere fraudscore wrote.
	require.NotEmpty(t, cards)
	sweep := func(where string, b []byte) {
		t.Helper()
		if pan := corpusCardIn(b, cards); pan != "" {
			t.Errorf("%s holds card number %s", where, pan)
		}
	}
	names := js.StreamNames(ctx)
	swept := 0
	for name := range names.Name() {
		st, err := js.Stream(ctx, name)
		require.NoError(t, err)
		info, err := st.Info(ctx)
		require.NoError(t, err)
		for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			require.NoError(t, err)
			where := name + " message " + strconv.FormatUint(seq, 10)
			sweep(where+" subject", []byte(m.Subject))
			sweep(where+" payload", m.Data)
			for k, vs := range m.Header {
				sweep(where+" header name", []byte(k))
				for _, v := range vs {
					sweep(where+" header "+k, []byte(v))
				}
			}
			swept++
		}
	}
	require.NoError(t, names.Err())
	assert.GreaterOrEqual(t, swept, len(seqOf), "the sweep read the dead letters")
	for i, m := range replies {
		where := "reply " + strconv.Itoa(i)
		sweep(where+" payload", m.Data)
		for k, vs := range m.Header {
			sweep(where+" header name", []byte(k))
			for _, v := range vs {
				sweep(where+" header "+k, []byte(v))
			}
		}
	}
	assert.Len(t, testenv.Matching(logs.Records(), testenv.MsgIs("dead-lettered")), len(seqOf),
		"the worker's log was captured: one line per dead letter")
	for i, line := range strings.Split(logs.String(), "\n") {
		sweep("log line "+strconv.Itoa(i+1), []byte(line))
	}
	require.Contains(t, metrics, "fraudscore_")
	sweep("/metrics", []byte(metrics))

	// At rest: the server's store files, after it has written everything;
	// the sentinel still holds the input stream's block open.
	storeDir := s.StoreDir()
	s.Shutdown()
	s.WaitForShutdown()
	hold.letGo()
	files, maskedOnDisk := 0, 0
	require.NoError(t, filepath.WalkDir(storeDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		sweep("store file "+strings.TrimPrefix(path, storeDir), b)
		for _, pan := range cards {
			if masked, _ := contracts.RedactPANString(pan); bytes.Contains(b, []byte(masked)) {
				maskedOnDisk++
			}
		}
		return nil
	}))
	assert.Positive(t, files)
	// The files hold message bytes as sent: the masked copies in the
	// dead-letter stream are there to be seen, so would a clear one be.
	assert.Positive(t, maskedOnDisk, "no masked card number found in the store: the sweep cannot see message bytes")
}

// corpusCardIn returns the first card number of cards found in b, in any
// grouping by spaces or dashes, masked for the test's own output; "" when
// none is.
func corpusCardIn(b []byte, cards []string) string {
	flat := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, b)
	for _, pan := range cards {
		if bytes.Contains(flat, []byte(pan)) {
			masked, _ := contracts.RedactPANString(pan)
			return masked
		}
	}
	return ""
}

// holdScorer holds the scoring of one transaction until letGo, and scores
// every other one with inner.
type holdScorer struct {
	inner    worker.Scorer
	id       string
	held     chan struct{} // closed when the transaction is being held
	release  chan struct{}
	heldOnce sync.Once
	goOnce   sync.Once
}

func (h *holdScorer) Score(ev *contracts.TransactionEvent, vd *contracts.Verdict) error {
	if ev.TransactionID == h.id {
		h.heldOnce.Do(func() { close(h.held) })
		<-h.release
	}
	return h.inner.Score(ev, vd)
}

func (h *holdScorer) letGo() { h.goOnce.Do(func() { close(h.release) }) }

// TestHostileCorpusDocumented keeps docs/security.md's table of the corpus
// in step with cases.json: every case is named there.
func TestHostileCorpusDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "security.md"))
	require.NoError(t, err)
	for _, c := range loadHostileCorpus(t) {
		assert.Contains(t, string(doc), "`"+c.Name+"`", "docs/security.md does not name hostile case %s", c.Name)
	}
}
