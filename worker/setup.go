package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SetupRetry bounds how the worker retries its JetStream setup (streams,
// consumers) at start. A cluster that has not yet elected its meta leader
// leaves API requests unanswered or answers "JetStream system temporarily
// unavailable"; those failures are retried until Run's context ends, while
// readiness stays false. A permanent failure (invalid configuration, storage
// the server cannot reserve, a stream managed elsewhere that does not exist)
// ends Run at once.
type SetupRetry struct {
	// AttemptTimeout bounds one attempt: every stream and consumer.
	AttemptTimeout time.Duration
	// MinDelay is the pause after the first failed attempt; it doubles per
	// attempt up to MaxDelay, and each pause is jittered down by up to half.
	MinDelay, MaxDelay time.Duration
}

// DefaultSetupRetry is what a zero SetupRetry in Options means: attempts of
// 10 s, pauses from 500 ms to 30 s.
func DefaultSetupRetry() SetupRetry {
	return SetupRetry{AttemptTimeout: 10 * time.Second, MinDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second}
}

// withDefaults fills the zero fields of r from DefaultSetupRetry.
func (r SetupRetry) withDefaults() SetupRetry {
	d := DefaultSetupRetry()
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = d.AttemptTimeout
	}
	if r.MinDelay <= 0 {
		r.MinDelay = d.MinDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = d.MaxDelay
	}
	r.MaxDelay = max(r.MaxDelay, r.MinDelay)
	return r
}

// delay is the pause after the given failed attempt (1-based).
func (r SetupRetry) delay(attempt int) time.Duration {
	d := r.MinDelay
	for i := 1; i < attempt && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	return d - rand.N(d/2+1)
}

// JetStream API error codes that mean "not now" rather than "never". The
// jetstream package names only some codes; these come from nats-server's
// errors.json.
const (
	errCodeClusterIncomplete   jetstream.ErrorCode = 10004 // incomplete results
	errCodeClusterNoPeers      jetstream.ErrorCode = 10005 // no suitable peers for placement
	errCodeClusterNotAvailable jetstream.ErrorCode = 10008 // JetStream system temporarily unavailable
	errCodeClusterNotLeader    jetstream.ErrorCode = 10009 // JetStream cluster can not handle request
	errCodeRaftGeneral         jetstream.ErrorCode = 10041 // a proposal failed, e.g. during a leader change
	errCodeMemberChange        jetstream.ErrorCode = 10202 // cluster member change is in progress
)

// transientSetupError reports whether a failed setup attempt may succeed if
// tried again: the server did not answer in time or had no responder yet,
// the connection is between servers, or the cluster answered that it cannot
// place or decide right now (no meta leader, peers missing). Everything
// else, including every other JetStream API error (invalid configuration,
// insufficient storage, stream not found), is permanent.
//
// "No suitable peers" is retried: on a cluster still forming, peers are
// missing; a cluster whose peers lack the storage answers the same code,
// and the worker then retries, not ready, logging the server's reason.
func transientSetupError(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeClusterIncomplete, errCodeClusterNoPeers, errCodeClusterNotAvailable,
			errCodeClusterNotLeader, errCodeRaftGeneral, errCodeMemberChange:
			return true
		}
		return false
	}
	for _, t := range []error{
		context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders,
		nats.ErrConnectionReconnecting, nats.ErrDisconnected, nats.ErrStaleConnection,
	} {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// setup ensures (or binds) the topology and reads the input stream,
// retrying transient failures as SetupRetry says until ctx ends. Each retry
// is logged with its error and counted in fraudscore_setup_retries_total;
// Ready reports the last error meanwhile.
func (w *Worker) setup(ctx context.Context) (main, advisory jetstream.Consumer, err error) {
	attempts, err := w.retry.run(ctx, transientSetupError, func(actx context.Context) error {
		var err error
		main, advisory, err = EnsureTopology(actx, w.js, w.cfg)
		if err == nil {
			w.input, err = w.js.Stream(actx, w.cfg.Stream)
			if err != nil {
				err = fmt.Errorf("worker: stream %s: %w", w.cfg.Stream, err)
			}
		}
		return err
	}, func(attempt int, pause time.Duration, err error) {
		msg := err.Error()
		w.setupErr.Store(&msg)
		w.m.SetupRetries.Inc()
		w.log.Warn("JetStream setup failed; retrying", "attempt", attempt, "retry_in", pause.Round(time.Millisecond).String(), "err", err)
	})
	switch {
	case err == nil:
		w.setupErr.Store(nil)
		return main, advisory, nil
	case ctx.Err() != nil:
		return nil, nil, fmt.Errorf("worker: JetStream setup stopped after %d attempts: %w (last error: %w)", attempts, ctx.Err(), err)
	}
	return nil, nil, err
}

// run calls attempt, each call bounded by r.AttemptTimeout, until it
// succeeds, fails with an error retryable does not accept, or ctx ends.
// Before each pause (r.delay) it calls failed with the attempt's number, the
// pause and the error. It returns the number of attempts and the last
// error: nil on success, that error as is otherwise (ctx.Err() tells a
// stop from a permanent failure).
func (r SetupRetry) run(ctx context.Context, retryable func(error) bool, attempt func(context.Context) error,
	failed func(attempt int, pause time.Duration, err error)) (int, error) {
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, r.AttemptTimeout)
		err := attempt(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !retryable(err) {
			return n, err
		}
		pause := r.delay(n)
		failed(n, pause, err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return n, err
		case <-t.C:
		}
	}
}
