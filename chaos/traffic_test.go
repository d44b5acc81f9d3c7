package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/loadtest"
	"github.com/fraudscore/fraudscore/synthetic"
)

// Publish states of one transaction.
const (
	stNone    = 0 // not sent
	stPending = 1 // sent, PubAck not (yet) received
	stAcked   = 2 // stored in TRANSACTIONS (PubAck received)
)

// Kinds of message.
const (
	kindValid   = 1
	kindGarbage = 2
)

// traffic publishes a known set of transactions at a fixed rate, like a
// payment system would: each with Nats-Msg-Id = transaction id, and a
// publish that is not confirmed is retried with the same id (de-duplicated
// by TRANSACTIONS within its window) until it is, or until the retry phase
// ends. Every message, garbage included, carries its id "ch-<run>-<n>" so
// that its verdict or dead letter can be matched.
type traffic struct {
	prefix  string
	subject string
	n       int
	rate    float64
	garbage int // every garbage-th message is garbage (0: none)
	// raw sends events without upstream aggregates (as synthetic's
	// population mode does), so that a verdict's velocity features are
	// null exactly when the worker could not compute them.
	raw bool

	kinds  []uint8
	states []atomic.Uint32

	mu      sync.Mutex
	payload map[int][]byte // unconfirmed payloads, for retries

	sent, acked, retried, pubErrs atomic.Int64
	garbageSent                   atomic.Int64

	holds map[int]chan struct{} // index -> closed when the traffic may send it (holdAt)
}

// holdAt makes the traffic wait, before it sends its i-th message, until
// release is called or its context ends; it then resumes at its rate. Call
// it before run. release may be called more than once.
func (tr *traffic) holdAt(i int) (release func()) {
	if tr.holds == nil {
		tr.holds = map[int]chan struct{}{}
	}
	ch := make(chan struct{})
	tr.holds[i] = ch
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func newTraffic(n int, rate float64, garbageEvery int) *traffic {
	return &traffic{
		prefix:  "ch-" + loadtest.NewRunID(time.Now()) + "-",
		subject: contracts.SubjectTransactionsPrefix + "chaos",
		n:       n, rate: rate, garbage: garbageEvery,
		kinds: make([]uint8, n), states: make([]atomic.Uint32, n),
		payload: map[int][]byte{},
	}
}

func (tr *traffic) id(i int) string { return tr.prefix + strconv.Itoa(i+1) }

// index returns the index of an id of this run, or -1.
func (tr *traffic) index(id string) int {
	if len(id) <= len(tr.prefix) || id[:len(tr.prefix)] != tr.prefix {
		return -1
	}
	n, err := strconv.Atoi(id[len(tr.prefix):])
	if err != nil || n < 1 || n > tr.n {
		return -1
	}
	return n - 1
}

// garbagePayload returns one of several kinds of bad input, each naming id.
func garbagePayload(i int, id string) []byte {
	switch (i / 7) % 5 {
	case 0: // not JSON at all
		return []byte("\x00\xffnot json " + id + " \x1b[31m")
	case 1: // truncated JSON
		return []byte(`{"schema_version":"transaction_event.v1","transaction_id":"` + id + `","amount":`)
	case 2: // wrong JSON types
		return []byte(`{"schema_version":"transaction_event.v1","transaction_id":"` + id + `","amount":"lots","event_time":42}`)
	case 3: // valid JSON, contract violated (fields missing)
		return []byte(`{"schema_version":"transaction_event.v1","transaction_id":"` + id + `"}`)
	default: // a PAN where a token belongs, unknown schema version
		return []byte(`{"schema_version":"transaction_event.v9","transaction_id":"` + id + `","card_token":"4111111111111111"}`)
	}
}

// run publishes n messages at the rate, then retries unconfirmed ones until
// all are confirmed or retryFor passes. It returns when done or ctx ends.
func (tr *traffic) run(ctx context.Context, nc *nats.Conn, retryFor time.Duration) error {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024), jetstream.WithPublishAsyncTimeout(5*time.Second))
	if err != nil {
		return err
	}
	gen := synthetic.New(synthetic.Config{Seed: 11, Now: time.Now, IDPrefix: tr.prefix})
	type fut struct {
		f jetstream.PubAckFuture
		i int
	}
	futs := make(chan fut, 4096)
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		for p := range futs {
			select {
			case <-p.f.Ok():
				tr.confirm(p.i)
			case <-p.f.Err():
				tr.pubErrs.Add(1)
			}
		}
	}()
	origin := time.Now()
	interval := time.Duration(float64(time.Second) / tr.rate)
	for i := 0; i < tr.n; i++ {
		if ctx.Err() != nil {
			break
		}
		if ch, ok := tr.holds[i]; ok {
			select {
			case <-ch:
			case <-ctx.Done():
			}
			origin = time.Now().Add(-time.Duration(i) * interval)
		}
		if d := time.Until(origin.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		id := tr.id(i)
		var data []byte
		if tr.garbage > 0 && i%tr.garbage == tr.garbage-1 {
			tr.kinds[i] = kindGarbage
			data = garbagePayload(i, id)
			tr.garbageSent.Add(1)
		} else {
			tr.kinds[i] = kindValid
			ev, _ := gen.Next()
			ev.TransactionID = id
			if tr.raw {
				ev.Aggregates = nil
			}
			if data, err = json.Marshal(&ev); err != nil {
				return err
			}
		}
		tr.mu.Lock()
		tr.payload[i] = data
		tr.mu.Unlock()
		tr.states[i].Store(stPending)
		tr.sent.Add(1)
		f, err := js.PublishMsgAsync(tr.msg(i, data))
		if err != nil {
			tr.pubErrs.Add(1)
			continue
		}
		futs <- fut{f, i}
	}
	close(futs)
	<-ackDone
	// Retry what was not confirmed, as a producer would, with the same id.
	deadline := time.Now().Add(retryFor)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		todo := tr.unconfirmed()
		if len(todo) == 0 {
			return nil
		}
		for _, i := range todo {
			tr.mu.Lock()
			data := tr.payload[i]
			tr.mu.Unlock()
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := js.PublishMsg(pctx, tr.msg(i, data))
			cancel()
			tr.retried.Add(1)
			if err == nil {
				tr.confirm(i)
			} else if errors.Is(err, context.Canceled) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if u := tr.unconfirmed(); len(u) > 0 {
		return fmt.Errorf("%d publishes never confirmed (first %s)", len(u), tr.id(u[0]))
	}
	return nil
}

func (tr *traffic) msg(i int, data []byte) *nats.Msg {
	return &nats.Msg{Subject: tr.subject, Data: data, Header: nats.Header{contracts.HeaderMsgID: []string{tr.id(i)}}}
}

func (tr *traffic) confirm(i int) {
	if tr.states[i].Swap(stAcked) != stAcked {
		tr.acked.Add(1)
		tr.mu.Lock()
		delete(tr.payload, i)
		tr.mu.Unlock()
	}
}

func (tr *traffic) unconfirmed() []int {
	var out []int
	for i := range tr.states {
		if tr.states[i].Load() == stPending {
			out = append(out, i)
		}
	}
	return out
}

// connect opens a client connection that rides out server restarts.
// connectJS connects for the rest of the test (closed at cleanup) and
// returns the connection and its JetStream context; a failure ends the test.
func connectJS(t testing.TB, url, name string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := connect(url, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func connect(url, name string) (*nats.Conn, error) {
	return nats.Connect(url, nats.Name(name), nats.Timeout(5*time.Second), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond), nats.ReconnectBufSize(64<<20), nats.RetryOnFailedConnect(true))
}
