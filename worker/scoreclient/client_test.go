package scoreclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/scoreclient"
)

// startWorker runs a real worker (bundled model) on a new embedded server,
// waits until it is ready and returns the server's URL.
func startWorker(t *testing.T) string {
	t.Helper()
	url := natstest.Start(t).ClientURL()
	cfg := worker.DefaultConfig()
	cfg.NATSURL = url
	cfg.WorkerID = "scoreclient-test"
	cfg.PullExpiry = time.Second
	require.NoError(t, cfg.Validate())
	sc, err := scorer.New(testenv.BundledModel(t), scorer.Options{})
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	nc, err := worker.Connect(&cfg, "scoreclient-test-worker", log, nil)
	require.NoError(t, err)
	m := worker.NewMetrics(prometheus.NewRegistry(), "test", "test")
	w, err := worker.New(worker.Options{Config: &cfg, Conn: nc, Scorer: sc, Decoder: contracts.NewValidator(), Metrics: m, Logger: log, Version: "1.0.0"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { runErr = w.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("worker did not stop")
		}
		nc.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for w.Ready() != nil {
		select {
		case <-done:
			t.Fatalf("worker stopped: %v", runErr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker not ready after 30s: %v", w.Ready())
		}
	}
	return url
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// eventJSON returns n synthetic events stamped now, encoded one per element.
func eventJSON(t *testing.T, n int) [][]byte {
	t.Helper()
	g := synthetic.New(synthetic.Config{Seed: 7, Now: time.Now, IDPrefix: "sc-"})
	out := make([][]byte, n)
	for i := range out {
		ev, _ := g.Next()
		b, err := json.Marshal(&ev)
		require.NoError(t, err)
		out[i] = b
	}
	return out
}

func txID(t *testing.T, event []byte) string {
	var v struct {
		ID string `json:"transaction_id"`
	}
	require.NoError(t, json.Unmarshal(event, &v))
	return v.ID
}

// invalidEvent is ev with a negative amount: a 400 from the service.
func invalidEvent(t *testing.T, ev []byte) []byte {
	var m map[string]any
	require.NoError(t, json.Unmarshal(ev, &m))
	m["amount_minor"] = -5
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestScoreReturnsTheVerdict(t *testing.T) {
	c := scoreclient.New(connect(t, startWorker(t)), scoreclient.Options{})
	ev := eventJSON(t, 1)[0]
	rep, err := c.Score(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, txID(t, ev), rep.Verdict.TransactionID)
	assert.True(t, rep.Verdict.Decision.Valid())
	assert.Equal(t, rep.Verdict.ModelVersion, rep.Header.Get(contracts.HeaderModelVersion))
	assert.Equal(t, string(rep.Verdict.Decision), rep.Header.Get(contracts.HeaderDecision))
	var vd contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(rep.Data, &vd), "Data is the verdict's JSON")
	assert.Equal(t, rep.Verdict.TransactionID, vd.TransactionID)
}

func TestScoreServiceErrors(t *testing.T) {
	c := scoreclient.New(connect(t, startWorker(t)), scoreclient.Options{})
	ev := eventJSON(t, 1)[0]
	pan := "4111111111111111"
	var m map[string]any
	require.NoError(t, json.Unmarshal(ev, &m))
	m["card_token"] = pan
	withPAN, err := json.Marshal(m)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, code string
		event      []byte
	}{
		{"invalid", worker.CodeBadRequest, invalidEvent(t, ev)},
		{"card number", worker.CodeBadRequest, withPAN},
		{"not json", worker.CodeBadRequest, []byte("not json")},
		{"too large", worker.CodeTooLarge, bytes.Repeat([]byte(" "), contracts.DefaultMaxEventBytes+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := c.Score(context.Background(), tc.event)
			require.Error(t, err)
			assert.Nil(t, rep)
			assert.ErrorIs(t, err, scoreclient.ErrService)
			var se *scoreclient.ServiceError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.code, se.Code)
			assert.NotEmpty(t, se.Description)
			assert.NotContains(t, err.Error(), pan)
		})
	}
}

func TestScoreWithoutService(t *testing.T) {
	c := scoreclient.New(connect(t, natstest.Start(t).ClientURL()), scoreclient.Options{})
	_, err := c.Score(context.Background(), eventJSON(t, 1)[0])
	assert.ErrorIs(t, err, scoreclient.ErrNoService)
	assert.NotErrorIs(t, err, scoreclient.ErrService)
}

func TestScoreTimeout(t *testing.T) {
	nc := connect(t, natstest.Start(t).ClientURL())
	// A responder that never answers: the request has a listener, so NATS
	// does not say "no responders", and only the timeout ends it.
	got := make(chan struct{}, 1)
	sub, err := nc.Subscribe("test.silent", func(*nats.Msg) { got <- struct{}{} })
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	defer func() { _ = sub.Unsubscribe() }()
	c := scoreclient.New(nc, scoreclient.Options{Subject: "test.silent", Timeout: 100 * time.Millisecond})
	_, err = c.Score(context.Background(), eventJSON(t, 1)[0])
	select {
	case <-got:
	default:
		t.Fatal("the request never reached the silent responder")
	}
	assert.ErrorIs(t, err, scoreclient.ErrTimeout)
	assert.Contains(t, err.Error(), "test.silent")
}

func TestSendNDJSON(t *testing.T) {
	c := scoreclient.New(connect(t, startWorker(t)), scoreclient.Options{})
	evs := eventJSON(t, 3)
	in := "\n" + string(evs[0]) + "\r\n\n" + string(invalidEvent(t, evs[1])) + "\n" + string(evs[2]) // no final newline
	var out, errs bytes.Buffer
	res, err := c.Send(context.Background(), strings.NewReader(in), &out, &errs)
	assert.ErrorIs(t, err, scoreclient.ErrService)
	assert.Contains(t, err.Error(), "1 of 3 events")
	assert.Equal(t, scoreclient.Result{Events: 3, Verdicts: 2, ServiceErrors: 1}, res)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 2, out.String())
	for i, want := range []string{txID(t, evs[0]), txID(t, evs[2])} {
		var vd contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict([]byte(lines[i]), &vd), "verdict line %d", i)
		assert.Equal(t, want, vd.TransactionID, "verdicts in input order")
	}
	assert.Regexp(t, `^line 4: service error 400: .*amount_minor.*\n$`, errs.String())
}

func TestSendOneDocument(t *testing.T) {
	c := scoreclient.New(connect(t, startWorker(t)), scoreclient.Options{})
	ev := eventJSON(t, 1)[0]
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, ev, "", "  "))
	require.Greater(t, strings.Count(pretty.String(), "\n"), 5, "a document over several lines")
	var out, errs bytes.Buffer
	res, err := c.Send(context.Background(), strings.NewReader("\n"+pretty.String()+"\n\n"), &out, &errs)
	require.NoError(t, err)
	assert.Equal(t, scoreclient.Result{Events: 1, Verdicts: 1}, res)
	assert.Empty(t, errs.String())
	assert.Equal(t, 1, strings.Count(out.String(), "\n"), "one line: %s", out.String())
	var vd contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(bytes.TrimSpace(out.Bytes()), &vd))
	assert.Equal(t, txID(t, ev), vd.TransactionID)
}

func TestSendStopsAtTheFirstConnectionError(t *testing.T) {
	c := scoreclient.New(connect(t, natstest.Start(t).ClientURL()), scoreclient.Options{})
	evs := eventJSON(t, 2)
	var out, errs bytes.Buffer
	res, err := c.Send(context.Background(), strings.NewReader(string(evs[0])+"\n"+string(evs[1])+"\n"), &out, &errs)
	assert.ErrorIs(t, err, scoreclient.ErrNoService)
	assert.Contains(t, err.Error(), "line 1:")
	assert.Equal(t, scoreclient.Result{Events: 1}, res, "stopped at the first event")
	assert.Empty(t, out.String())
}

func TestSendWithoutEvents(t *testing.T) {
	c := scoreclient.New(connect(t, natstest.Start(t).ClientURL()), scoreclient.Options{})
	for _, in := range []string{"", "\n \n\t\n"} {
		res, err := c.Send(context.Background(), strings.NewReader(in), io.Discard, io.Discard)
		assert.ErrorIs(t, err, scoreclient.ErrNoInput, "%q", in)
		assert.Zero(t, res.Events)
	}
}

func TestSendReadError(t *testing.T) {
	c := scoreclient.New(connect(t, natstest.Start(t).ClientURL()), scoreclient.Options{})
	boom := errors.New("disk on fire")
	_, err := c.Send(context.Background(), io.MultiReader(strings.NewReader("{"), errReader{boom}), io.Discard, io.Discard)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, fmt.Sprintf("scoreclient: read events: %v", boom), err.Error())
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestAsyncAPIErrorCodesAreTheWorkers checks the error codes that
// contracts/asyncapi.yaml promises on a score reply, and the queue group of
// the score operation, against the worker's.
func TestAsyncAPIErrorCodesAreTheWorkers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "contracts", "asyncapi.yaml"))
	require.NoError(t, err)
	var doc struct {
		Operations map[string]struct {
			Channel struct {
				Ref string `yaml:"$ref"`
			} `yaml:"channel"`
			Bindings struct {
				NATS struct {
					Queue string `yaml:"queue"`
				} `yaml:"nats"`
			} `yaml:"bindings"`
		} `yaml:"operations"`
		Components struct {
			Messages map[string]struct {
				Headers struct {
					Properties map[string]struct {
						Enum []string `yaml:"enum"`
					} `yaml:"properties"`
				} `yaml:"headers"`
			} `yaml:"messages"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(data, &doc))
	n := 0
	for name, m := range doc.Components.Messages {
		if h, ok := m.Headers.Properties[micro.ErrorCodeHeader]; ok {
			n++
			assert.ElementsMatch(t, []string{worker.CodeBadRequest, worker.CodeTooLarge, worker.CodeInternal, worker.CodeUnavailable},
				h.Enum, "message %s", name)
		}
	}
	assert.Equal(t, 1, n, "one message carries %s", micro.ErrorCodeHeader)
	n = 0
	for name, op := range doc.Operations {
		if op.Channel.Ref == "#/channels/score" {
			n++
			assert.Equal(t, worker.DefaultConfig().QueueGroup, op.Bindings.NATS.Queue, "operation %s", name)
		}
	}
	assert.Equal(t, 1, n, "one operation on the score channel")
}
