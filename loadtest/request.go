package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fraudscore/fraudscore/contracts"
)

// headerServiceError is the micro service's error-code header.
const headerServiceError = "Nats-Service-Error-Code"

type job struct {
	i        int
	intended time.Time // zero: closed loop, stamp when sent
	data     []byte
}

// runRequest calls the score endpoint from Concurrency goroutines. At a
// fixed rate the schedule is open loop: a request's latency counts from its
// intended time, so time spent queued behind busy callers is measured.
func (r *run) runRequest(ctx context.Context) (*Report, error) {
	nc, err := r.connect("fraudscore-loadtest-request")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	// Wait for a responder: the first request may only be answered once the
	// worker's service is registered.
	if err := waitResponder(ctx, nc, r.cfg.ScoreSubject); err != nil {
		return nil, err
	}

	r.origin = time.Now()
	stopProgress := r.startProgress()
	jobs := make(chan job, r.cfg.Concurrency*2)
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r.request(nc, j)
			}
		}()
	}
	gen := r.generator()
	sendEnd := r.schedule(ctx, func(i int, intended time.Time) bool {
		ev, lbl := gen.Next()
		data, err := json.Marshal(&ev)
		if err != nil {
			r.addError("encode")
			return true
		}
		if r.cfg.Rate > 0 {
			r.recs[i].Store(pack(intended.Sub(r.origin), lbl))
		} else {
			// Closed loop: the caller stamps the send; keep the label.
			r.recs[i].Store(pack(0, lbl))
			intended = time.Time{}
		}
		select {
		case jobs <- job{i: i, intended: intended, data: data}:
			return true
		case <-ctx.Done():
			return false
		}
	})
	close(jobs)
	wg.Wait()
	stopProgress()
	r.measured()
	return r.report(sendEnd), nil
}

func (r *run) request(nc *nats.Conn, j job) {
	if j.intended.IsZero() {
		// Closed loop: stamp now, keeping the label bits.
		rec := r.recs[j.i].Load()
		r.recs[j.i].Store(int64(time.Since(r.origin))<<4 | rec&15)
	}
	r.sent.Add(1)
	resp, err := nc.RequestMsg(&nats.Msg{Subject: r.cfg.ScoreSubject, Data: j.data}, r.cfg.RequestTimeout)
	now := time.Now().UnixNano()
	switch {
	case errors.Is(err, nats.ErrTimeout):
		r.addError("timeout")
		return
	case errors.Is(err, nats.ErrNoResponders):
		r.addError("no_responders")
		return
	case err != nil:
		r.addError("request")
		return
	}
	if code := resp.Header.Get(headerServiceError); code != "" {
		r.addError(code)
		return
	}
	r.published.Add(1)
	r.match(j.i, resp.Header.Get(contracts.HeaderDecision), now)
}

// waitResponder waits until the score endpoint answers a request (any
// reply, even an error for the empty payload, proves a responder), for at
// most 30 seconds.
func waitResponder(ctx context.Context, nc *nats.Conn, subject string) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		rctx, rcancel := context.WithTimeout(wctx, 2*time.Second)
		_, err := nc.RequestWithContext(rctx, subject, []byte("{}"))
		rcancel()
		if err == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("loadtest: no responder on %s (is a worker running?): %w", subject, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
