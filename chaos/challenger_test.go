package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// Versions of the challenger scenario: the older bundled version (a good
// challenger) and the name of its tampered copy.
const (
	olderVersion    = "v20261127_135446"
	tamperedVersion = "v20261128_000000"
)

// trial is what the challenger scenario recorded while it injected its
// fault, for the bite check: the workers' load failures before it, the
// last VERDICTS sequence when both workers had refused the tampered
// challenger and just before the link moved to the good one, and how many
// transactions had been sent once both served the good one (every later
// one was delivered, so scored, after that).
type trial struct {
	champion, good, tampered string
	failsBefore              map[string]float64
	refusedSeq, beforeGood   uint64
	sentBeforeGood           int
	started                  bool // the fault was injected through the good challenger
}

// copyVersion copies the version from of the repository's model store into
// dir under name (its metadata's version set to name) and returns the new
// version directory.
func copyVersion(t *testing.T, dir, from, name string) string {
	t.Helper()
	src := filepath.Join(testenv.ModelDir(t), from)
	dst := filepath.Join(dir, name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.EditMetadata(t, dst, func(m map[string]any) { m["version"] = name })
	return dst
}

// hupAll sends SIGHUP (reload the models now) to every worker.
func hupAll(ws []*workerProc) error {
	for _, w := range ws {
		if w.p.Exited() {
			return fmt.Errorf("%s (pid %d) has ended: %v", w.id, w.p.Pid(), w.p.State())
		}
		if err := w.p.signal(syscall.SIGHUP); err != nil {
			return fmt.Errorf("%s: SIGHUP: %w", w.id, err)
		}
	}
	return nil
}

// lastSeq is the last sequence stored in a stream.
func lastSeq(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := js.Stream(qctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(qctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// storedVerdict is one verdict read back from VERDICTS.
type storedVerdict struct {
	seq uint64
	vd  contracts.Verdict
}

// readVerdicts reads and decodes every verdict in VERDICTS, in order, with
// an ordered consumer, up to the last sequence the stream reports (at most
// two minutes).
func readVerdicts(ctx context.Context, js jetstream.JetStream) ([]storedVerdict, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := js.Stream(rctx, streamVerdicts)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(rctx)
	if err != nil {
		return nil, err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil, nil
	}
	oc, err := st.OrderedConsumer(rctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, err
	}
	var out []storedVerdict
	var batchErr error
	for rctx.Err() == nil {
		batch, err := oc.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return out, err
		}
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				return out, err
			}
			var vd contracts.Verdict
			if err := contracts.DecodeVerdict(m.Data(), &vd); err != nil {
				return out, fmt.Errorf("verdict at %s sequence %d: %w", streamVerdicts, meta.Sequence.Stream, err)
			}
			out = append(out, storedVerdict{seq: meta.Sequence.Stream, vd: vd})
			if meta.Sequence.Stream >= last {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			batchErr = err
		}
	}
	return out, fmt.Errorf("read %d verdicts of %s up to sequence %d: %w (last fetch: %v)", len(out), streamVerdicts, last, rctx.Err(), batchErr)
}

// injectChallenger is the challenger scenario's fault, run with the
// traffic going: the challenger link moves (atomically, past the checks of
// `model challenger set`) to a tampered copy of the older version and
// every worker gets SIGHUP; once both refused it (counted, logged, still
// ready), the traffic held at hold1 resumes; once both workers stored
// verdicts with their champion alone, the link moves to the good older
// version, SIGHUP again, and once both serve it the traffic held at hold2
// resumes.
func (s *system) injectChallenger(ctx context.Context, tr *traffic, tl *trial, hold1, hold2 func(), ev *evidence) error {
	defer hold1()
	defer hold2()
	for _, w := range s.workers {
		n, _ := w.metric("fraudscore_model_load_failures_total")
		tl.failsBefore[w.id] = n
	}
	tamper(s.t, copyVersion(s.t, s.models, tl.good, tl.tampered))
	if _, err := modelstore.Open(s.models).Load(tl.tampered); !errors.Is(err, modelstore.ErrTampered) {
		return fmt.Errorf("the store does not refuse the tampered copy %s as tampered: %v", tl.tampered, err)
	} else {
		ev.injected("%s: a copy of %s whose model file changed after its sha256 was recorded; the store refuses it: %v", tl.tampered, tl.good, err)
	}
	testenv.MoveLink(s.t, s.models, modelstore.ChallengerLink, tl.tampered)
	if err := hupAll(s.workers); err != nil {
		return err
	}
	ev.injected("models/challenger -> %s (symlink and rename); SIGHUP to %d workers", tl.tampered, len(s.workers))

	// Both workers refuse it and keep serving their champion.
	for _, w := range s.workers {
		var fails float64
		var lines []string
		if !waitUntil(time.Minute, func() bool {
			fails, _ = w.metric("fraudscore_model_load_failures_total")
			lines = refusals(w, tl.tampered)
			return fails > tl.failsBefore[w.id] && len(lines) > 0
		}) {
			return fmt.Errorf("%s did not refuse the tampered challenger within a minute: load failures %v (before %v), refusal lines %d",
				w.id, fails, tl.failsBefore[w.id], len(lines))
		}
		if code, body := w.probe("/readyz"); code != http.StatusOK {
			return fmt.Errorf("%s /readyz after refusing the challenger: %d %s", w.id, code, body)
		}
	}
	seq, err := lastSeq(ctx, s.js, streamVerdicts)
	if err != nil {
		return err
	}
	tl.refusedSeq = seq
	acked := map[string]float64{}
	for _, w := range s.workers {
		acked[w.id], _ = w.metric("fraudscore_messages_acked_total")
	}
	hold1()
	for _, w := range s.workers {
		var now float64
		if !waitUntil(2*time.Minute, func() bool {
			now, _ = w.metric("fraudscore_messages_acked_total")
			return now > acked[w.id]
		}) {
			return fmt.Errorf("%s acked nothing after refusing the challenger (acked %v)", w.id, now)
		}
		if code, body := w.probe("/readyz"); code != http.StatusOK {
			return fmt.Errorf("%s /readyz while the challenger is refused: %d %s", w.id, code, body)
		}
	}
	if tl.beforeGood, err = lastSeq(ctx, s.js, streamVerdicts); err != nil {
		return err
	}

	// The good challenger.
	testenv.MoveLink(s.t, s.models, modelstore.ChallengerLink, tl.good)
	if err := hupAll(s.workers); err != nil {
		return err
	}
	ev.injected("models/challenger -> %s (untampered) at %s sequence %d; SIGHUP to %d workers", tl.good, streamVerdicts, tl.beforeGood, len(s.workers))
	for _, w := range s.workers {
		var v float64
		if !waitUntil(time.Minute, func() bool {
			v, _ = w.metricWhere("fraudscore_challenger_info", `model_version="`+tl.good+`"`)
			return v == 1
		}) {
			return fmt.Errorf("%s: fraudscore_challenger_info{model_version=%q} = %v within a minute, want 1", w.id, tl.good, v)
		}
	}
	tl.sentBeforeGood = int(tr.sent.Load())
	tl.started = true
	ev.injected("both workers serve challenger %s once %d transactions were sent", tl.good, tl.sentBeforeGood)
	return nil
}

// refusals returns the worker's log lines that refuse the challenger and
// name version.
func refusals(w *workerProc, version string) []string {
	var out []string
	for _, l := range w.p.grep("challenger model refused") {
		if strings.Contains(l, `"link":"challenger"`) && strings.Contains(l, version) {
			out = append(out, l)
		}
	}
	return out
}

// challengerBit is the bite of the challenger scenario: every worker
// counted a load failure and logged the refusal of the tampered
// challenger, stayed ready and serves the good one
// (fraudscore_challenger_info = 1); no verdict stored before the good
// challenger served carries a shadow entry, some were stored while the
// tampered one was refused, and every transaction sent once both served it
// has a verdict of the champion with a shadow entry of the challenger.
func (s *system) challengerBit(ctx context.Context, tr *traffic, tl *trial, ev *evidence) error {
	var errs []error
	for _, w := range s.workers {
		fails, ok := w.metric("fraudscore_model_load_failures_total")
		if !ok || fails <= tl.failsBefore[w.id] {
			errs = append(errs, fmt.Errorf("%s: fraudscore_model_load_failures_total = %v (found %v), before the fault %v", w.id, fails, ok, tl.failsBefore[w.id]))
		} else {
			ev.bit("%s: fraudscore_model_load_failures_total %.0f (before %.0f)", w.id, fails, tl.failsBefore[w.id])
		}
		if lines := refusals(w, tl.tampered); tl.tampered == "" || len(lines) == 0 {
			errs = append(errs, fmt.Errorf("%s logged no refusal of challenger %q", w.id, tl.tampered))
		} else {
			ev.bit("%s log: %s", w.id, lines[0])
		}
		if code, body := w.probe("/readyz"); code != http.StatusOK {
			errs = append(errs, fmt.Errorf("%s /readyz: %d %s", w.id, code, body))
		}
		if v, _ := w.metricWhere("fraudscore_challenger_info", `model_version="`+tl.good+`"`); tl.good == "" || v != 1 {
			errs = append(errs, fmt.Errorf("%s: fraudscore_challenger_info{model_version=%q} = %v, want 1", w.id, tl.good, v))
		} else {
			ev.bit("%s: fraudscore_challenger_info{model_version=%q} 1, /readyz 200", w.id, tl.good)
		}
		if n, _ := w.metric("fraudscore_challenger_errors_total"); n != 0 {
			errs = append(errs, fmt.Errorf("%s: fraudscore_challenger_errors_total = %v, want 0", w.id, n))
		}
	}
	vs, err := readVerdicts(ctx, s.js)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var before, refused, after, afterOK, shadowed int
	var bad []string
	note := func(format string, a ...any) {
		if len(bad) < 5 {
			bad = append(bad, fmt.Sprintf(format, a...))
		}
	}
	for _, v := range vs {
		if v.vd.ModelVersion != tl.champion {
			note("%s decided by %q, not the champion %s", v.vd.TransactionID, v.vd.ModelVersion, tl.champion)
		}
		if len(v.vd.Shadow) > 0 {
			shadowed++
		}
		for _, sh := range v.vd.Shadow {
			if sh.ModelVersion != tl.good {
				note("%s has a shadow entry of %q", v.vd.TransactionID, sh.ModelVersion)
			}
		}
		if v.seq <= tl.beforeGood {
			before++
			if v.seq > tl.refusedSeq {
				refused++
			}
			if len(v.vd.Shadow) > 0 {
				note("%s (sequence %d, stored before the good challenger) has a shadow entry", v.vd.TransactionID, v.seq)
			}
		}
		if i := tr.index(v.vd.TransactionID); i >= 0 && tl.started && i >= tl.sentBeforeGood {
			after++
			if len(v.vd.Shadow) == 1 && v.vd.Shadow[0].ModelVersion == tl.good {
				afterOK++
			} else {
				note("%s (sent once %s served) has shadow %+v, want one entry of %s", v.vd.TransactionID, tl.good, v.vd.Shadow, tl.good)
			}
		}
	}
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("verdicts: %s", strings.Join(bad, "; ")))
	}
	if refused == 0 {
		errs = append(errs, fmt.Errorf("no verdict stored while the tampered challenger was refused (%s sequences %d..%d)", streamVerdicts, tl.refusedSeq, tl.beforeGood))
	}
	if after == 0 {
		errs = append(errs, fmt.Errorf("no verdict of a transaction sent once challenger %q served", tl.good))
	}
	ev.bit("%d verdicts read back: %d stored before the good challenger, none with a shadow entry (%d while the tampered one was refused); %d of the %d transactions sent once %s served carry its shadow entry; %d with a shadow entry in all",
		len(vs), before, refused, afterOK, after, tl.good, shadowed)
	return errors.Join(errs...)
}
