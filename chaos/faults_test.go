package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fault is one injected failure: how to inject it, and how to tell that it
// bit. Both return an error rather than failing the test, so that the suite
// can show (faultcheck_test.go) that a fault which did not happen fails.
type fault struct {
	// traffic, optional, sees the scenario's traffic before it starts (to
	// hold it at points with holdAt, or to read what was sent).
	traffic func(tr *traffic)
	// inject runs once a third of the traffic is sent; an error means the
	// fault could not be injected or the system did not confirm it.
	inject func(ctx context.Context, ev *evidence) error
	// bit runs once the system is quiet, with what the streams stored; an
	// error means the fault had no effect that shows.
	bit func(ctx context.Context, c counts, ev *evidence) error
}

// evidence is what a scenario observed of its fault: what was done and how
// the system confirmed it, and the effect that shows it bit. The scenario
// asserts it and the results JSON keeps it.
type evidence struct {
	Injected     []string `json:"injected"`
	Bit          []string `json:"bit"`
	ExitStatus   string   `json:"exit_status,omitempty"`
	Redeliveries uint64   `json:"redeliveries"`
	LeaderBefore string   `json:"leader_before,omitempty"`
	LeaderAfter  string   `json:"leader_after,omitempty"`
	// RefusedProbes counts the suite's own publishes refused during an
	// outage; WorkerRefusals the workers' NAKs for a refused publish.
	RefusedProbes  int     `json:"refused_probes,omitempty"`
	WorkerRefusals float64 `json:"worker_refusals,omitempty"`
}

func (e *evidence) injected(format string, args ...any) {
	e.Injected = append(e.Injected, fmt.Sprintf(format, args...))
}

func (e *evidence) bit(format string, args ...any) {
	e.Bit = append(e.Bit, fmt.Sprintf(format, args...))
}

// killWith sends sig to the running process and waits up to limit for it to
// end. It returns the wait status, and an error when the process had already
// ended (nothing was killed), did not end, or ended other than by sig.
func (p *proc) killWith(sig syscall.Signal, limit time.Duration) (string, error) {
	if p.Exited() {
		return "", fmt.Errorf("%s (pid %d) had already ended (%v): nothing to kill", p.name, p.Pid(), p.State())
	}
	if err := syscall.Kill(p.Pid(), sig); err != nil {
		return "", fmt.Errorf("%s (pid %d): %v: %w", p.name, p.Pid(), sig, err)
	}
	if !p.waitExit(limit) {
		return "", fmt.Errorf("%s (pid %d) still runs %s after %v", p.name, p.Pid(), limit, sig)
	}
	return diedBy(p.State(), sig)
}

// diedBy checks that a wait status says sig ended the process.
func diedBy(st *os.ProcessState, sig syscall.Signal) (string, error) {
	if st == nil {
		return "", errors.New("no wait status: the process has not ended")
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok {
		return st.String(), fmt.Errorf("wait status %q unreadable", st)
	}
	if !ws.Signaled() || ws.Signal() != sig {
		return st.String(), fmt.Errorf("process ended with %q, not by %v", st, sig)
	}
	return st.String(), nil
}

// pause SIGSTOPs the running process, confirms from /proc that it stopped,
// runs while (with the process stopped), then, unless while ended it,
// SIGCONTs it and confirms that it runs again.
func (p *proc) pause(while func() error) error {
	if p.Exited() {
		return fmt.Errorf("%s (pid %d) had already ended (%v): nothing to stop", p.name, p.Pid(), p.State())
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGSTOP); err != nil {
		return fmt.Errorf("%s: SIGSTOP: %w", p.name, err)
	}
	if err := p.waitState(func(s byte) bool { return s == 'T' }); err != nil {
		return fmt.Errorf("%s after SIGSTOP: %w", p.name, err)
	}
	werr := while()
	if p.Exited() {
		return werr
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGCONT); err != nil {
		return errors.Join(werr, fmt.Errorf("%s: SIGCONT: %w", p.name, err))
	}
	if err := p.waitState(func(s byte) bool { return s != 'T' }); err != nil {
		return errors.Join(werr, fmt.Errorf("%s after SIGCONT: %w", p.name, err))
	}
	return werr
}

// waitState polls the process's scheduler state (/proc/<pid>/stat: R, S,
// T for stopped, ...) until ok accepts it, for at most 10 s.
func (p *proc) waitState(ok func(byte) bool) error {
	var last byte
	var err error
	if waitUntil(10*time.Second, func() bool {
		last, err = procState(p.Pid())
		return err == nil && ok(last)
	}) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("process state %q", last)
}

// procState reads the state letter of a process from /proc/<pid>/stat.
func procState(pid int) (byte, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("process state: %w", err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("process state: unexpected /proc/%d/stat %q", pid, b)
	}
	return b[i+2], nil
}

// redeliveries reads the work consumer's counters: every delivery takes a
// consumer sequence and every first delivery a stream sequence, so on a
// stream that only this consumer reads, from sequence 1 and without gaps
// (retried publishes are de-duplicated, not stored), the difference is the
// number of redeliveries so far.
func redeliveries(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := js.Consumer(qctx, streamTx, consumerName)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", consumerName, err)
	}
	info, err := c.Info(qctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s info: %w", consumerName, err)
	}
	d := info.Delivered
	if d.Consumer < d.Stream {
		return 0, fmt.Errorf("consumer %s delivered %d times but up to stream sequence %d", consumerName, d.Consumer, d.Stream)
	}
	return d.Consumer - d.Stream, nil
}

// redelivered is the bite of a fault that takes messages with it: the
// consumer redelivered at least one.
func redelivered(ctx context.Context, js jetstream.JetStream, ev *evidence) error {
	n, err := redeliveries(ctx, js)
	if err != nil {
		return err
	}
	ev.Redeliveries = n
	if n == 0 {
		return errors.New("the consumer redelivered nothing")
	}
	ev.bit("consumer %s redelivered %d messages", consumerName, n)
	return nil
}

// leaderChange waits up to limit until leaderOf names a leader other than
// before. It fails when no leader was known before (so none was lost) or
// none other took over.
func leaderChange(leaderOf func() string, before string, limit time.Duration) (string, error) {
	if before == "" {
		return "", errors.New("no leader known before the fault")
	}
	var now string
	if waitUntil(limit, func() bool { now = leaderOf(); return now != "" && now != before }) {
		return now, nil
	}
	return now, fmt.Errorf("leader still %q (was %q) after %s", now, before, limit)
}

// outage makes a stream refuse publishes for d by moving it to other
// subjects (publishers get "no responders", as when a stream has no leader
// or its server is gone), probes on probeSubject that publishes are indeed
// refused, then restores the stream.
func outage(ctx context.Context, js jetstream.JetStream, stream, probeSubject string, d time.Duration, ev *evidence) error {
	octx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	st, err := js.Stream(octx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(octx)
	if err != nil {
		return fmt.Errorf("stream %s info: %w", stream, err)
	}
	orig := info.Config
	off := orig
	off.Subjects = []string{"chaos.outage." + strings.ToLower(stream) + ".>"}
	if _, err := js.UpdateStream(octx, off); err != nil {
		return fmt.Errorf("take %s away: %w", stream, err)
	}
	refused, perr := probeRefusals(octx, js, st, probeSubject, d)
	if _, err := js.UpdateStream(octx, orig); err != nil {
		return errors.Join(perr, fmt.Errorf("restore %s: %w", stream, err))
	}
	ev.RefusedProbes = refused
	ev.injected("%s moved off its subjects for %s; %d probe publishes to %s refused; restored", stream, d, refused, probeSubject)
	return perr
}

// probeRefusals publishes to subject every 200 ms for d and counts the
// publishes that no stream took. A probe that was stored is deleted again
// (it names no transaction) and makes the result an error, as does a
// window without any refusal.
func probeRefusals(ctx context.Context, js jetstream.JetStream, st jetstream.Stream, subject string, d time.Duration) (int, error) {
	var refused, stored int
	var other error
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ack, err := js.Publish(pctx, subject, []byte("chaos outage probe"))
		cancel()
		switch {
		case err == nil:
			stored++
			if derr := st.DeleteMsg(ctx, ack.Sequence); derr != nil {
				other = fmt.Errorf("delete probe %d: %w", ack.Sequence, derr)
			}
		case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
			refused++
		default:
			other = err
		}
	}
	if stored > 0 || refused == 0 {
		return refused, errors.Join(fmt.Errorf("%d probe publishes to %s refused, %d stored", refused, subject, stored), other)
	}
	return refused, nil
}

// workerRefusals is the bite of an outage: the workers NAKed messages
// because a publish was refused (reasons as in worker's nak calls).
func workerRefusals(ws []*workerProc, ev *evidence, reasons ...string) error {
	var n float64
	for _, w := range ws {
		for _, r := range reasons {
			v, _ := w.metricWhere("fraudscore_messages_nacked_total", `reason="`+r+`"`)
			n += v
		}
	}
	ev.WorkerRefusals = n
	if n == 0 {
		return fmt.Errorf("no worker NAKed a message for a refused publish (%s)", strings.Join(reasons, ", "))
	}
	ev.bit("workers NAKed %.0f messages for refused publishes (%s)", n, strings.Join(reasons, ", "))
	return nil
}

// reconnected is the bite of a server restart: every worker reconnected.
func reconnected(ws []*workerProc, ev *evidence) error {
	var errs []error
	for _, w := range ws {
		n, ok := w.metric("fraudscore_nats_reconnects_total")
		if !ok || n < 1 {
			errs = append(errs, fmt.Errorf("%s: fraudscore_nats_reconnects_total = %v (found %v), want >= 1", w.id, n, ok))
			continue
		}
		ev.bit("%s reconnected %.0f times", w.id, n)
	}
	return errors.Join(errs...)
}

// modelRefused is the bite of a tampered model: the worker counted a load
// failure, logged "model refused", is not ready (naming the sha256
// mismatch) and consumed nothing.
func modelRefused(w *workerProc, ev *evidence) error {
	var errs []error
	if fails, ok := w.metric("fraudscore_model_load_failures_total"); !ok || fails < 1 {
		errs = append(errs, fmt.Errorf("%s: fraudscore_model_load_failures_total = %v (found %v), want >= 1", w.id, fails, ok))
	} else {
		ev.bit("%s: fraudscore_model_load_failures_total %.0f", w.id, fails)
	}
	if lines := w.p.grep("model refused"); len(lines) == 0 {
		errs = append(errs, fmt.Errorf("%s logged no \"model refused\" line", w.id))
	} else {
		ev.bit("%s log: %s", w.id, lines[0])
	}
	if code, body := w.probe("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "sha256") {
		errs = append(errs, fmt.Errorf("%s /readyz: want 503 naming the sha256 mismatch, got %d %q", w.id, code, body))
	} else {
		ev.bit("%s /readyz: %d %s", w.id, code, strings.TrimSpace(body))
	}
	if rcv, _ := w.metric("fraudscore_messages_received_total"); rcv != 0 {
		errs = append(errs, fmt.Errorf("%s consumed %v messages with a refused model", w.id, rcv))
	}
	return errors.Join(errs...)
}
