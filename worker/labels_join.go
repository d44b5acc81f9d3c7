package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/labels"
)

// labelJoin is the worker's label join: it indexes verdicts by transaction
// id and joins each label with the indexed verdict (ADR 0020). It runs
// beside scoring, on its own consumers and goroutines, and never holds up
// a transaction.
type labelJoin struct {
	w   *Worker
	lc  *LabelConfig
	t   *labelTopology
	v   *contracts.Validator
	m   *LabelMetrics
	log *slog.Logger
}

// runLabels sets up the label topology (retrying like the worker's own
// setup) and consumes labels and verdicts until ctx ends. A failure is
// logged: labels wait in their stream, scoring goes on.
func (w *Worker) runLabels(ctx context.Context) {
	lc := w.labelCfg
	var t *labelTopology
	// Every error is retried: labels wait in their stream, scoring goes on.
	_, err := w.retry.run(ctx, func(error) bool { return true }, func(actx context.Context) error {
		var err error
		t, err = ensureLabelTopology(actx, w.js, w.cfg, lc)
		return err
	}, func(attempt int, pause time.Duration, err error) {
		w.log.Warn("label join setup failed; retrying", "attempt", attempt, "retry_in", pause.Round(time.Millisecond).String(), "err", err)
	})
	if err != nil {
		return
	}
	j := &labelJoin{w: w, lc: lc, t: t, m: w.m.Labels, log: w.log,
		v: &contracts.Validator{MaxBytes: contracts.DefaultMaxLabelBytes}}
	errLog := jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		w.log.Debug("label join consumer", "err", err)
	})
	// Index puts are round trips: IndexConcurrency goroutines make them,
	// fed by the consumer, so the index keeps up with the verdicts.
	work := make(chan jetstream.Msg, lc.IndexConcurrency)
	var wg sync.WaitGroup
	for range lc.IndexConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range work {
				j.indexVerdict(msg)
			}
		}()
	}
	defer func() { close(work); wg.Wait() }()
	idx, err := t.index.Consume(func(msg jetstream.Msg) { work <- msg }, jetstream.PullMaxMessages(256), errLog)
	if err != nil {
		w.log.Error("label join: consume verdicts", "err", err)
		return
	}
	defer func() { idx.Stop(); <-idx.Closed() }()
	lbl, err := t.labels.Consume(j.joinLabel, jetstream.PullMaxMessages(64), errLog)
	if err != nil {
		w.log.Error("label join: consume labels", "err", err)
		return
	}
	defer lbl.Stop()
	w.log.Info("label join running", "stream", lc.Stream, "consumer", lc.Consumer, "index", lc.IndexBucket,
		"horizon", lc.Horizon.String(), "verdict_wait", lc.VerdictWait.String())
	<-ctx.Done()
}

// indexVerdict writes a stored verdict's entry to the index, then acks it.
// A verdict that does not decode (never written by a worker) is acked and
// skipped: it can be joined with nothing.
func (j *labelJoin) indexVerdict(msg jetstream.Msg) {
	var vd contracts.Verdict
	if err := contracts.DecodeVerdict(msg.Data(), &vd); err != nil {
		j.log.Warn("verdict index: undecodable verdict skipped", "subject", sanitizeHeader(msg.Subject()), "err", err)
		_ = msg.Term()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := j.t.indexKV.Put(ctx, labels.Key(vd.TransactionID), labels.EntryOf(&vd).Marshal()); err != nil {
		j.log.Warn("verdict index: put failed; retried", "transaction_id", vd.TransactionID, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	_ = msg.Ack()
	j.m.Indexed.Inc()
}

// joinLabel decodes a label, dead-letters it when it is malformed, finds
// its verdict in the index (NAK with delay while the verdict may still
// come, within VerdictWait of the label's store time), records the first
// label of each transaction in the state bucket and counts it, or counts
// a duplicate or a contradiction.
func (j *labelJoin) joinLabel(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lb contracts.Label
	if err := labels.Decode(j.v, j.lc.Prefix, msg.Subject(), msg.Data(), &lb); err != nil {
		j.deadLetter(ctx, msg, meta, err, "")
		return
	}
	if why := cardDataOutsideContract(msg.Subject(), msg.Headers(), msg.Data()); why != "" {
		j.deadLetter(ctx, msg, meta, &contracts.ValidationError{Kind: contracts.KindInvalid,
			Problems: []contracts.Problem{{Message: why}}}, lb.TransactionID)
		return
	}
	key := labels.Key(lb.TransactionID)
	ent, err := j.t.indexKV.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if time.Since(meta.Timestamp) < j.lc.VerdictWait {
			_ = msg.NakWithDelay(j.lc.RetryDelay)
			return
		}
		j.settle(msg, labels.ResultUnknown, &lb)
		return
	case err != nil:
		j.retry(msg, "index get", &lb, err)
		return
	}
	e, err := labels.ParseEntry(ent.Value())
	if err != nil {
		j.log.Warn("label join: unreadable index entry; label counted as unknown", "transaction_id", lb.TransactionID, "err", err)
		j.settle(msg, labels.ResultUnknown, &lb)
		return
	}
	st := labels.State{Label: lb.Label, Seq: meta.Sequence.Stream}
	if _, err := j.t.stateKV.Create(ctx, key, st.Marshal()); err == nil {
		j.m.Decisions.WithLabelValues(e.ModelVersion, e.Rule, string(e.Decision), string(lb.Label)).Inc()
		j.settle(msg, labels.ResultJoined, &lb)
		return
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		j.retry(msg, "state create", &lb, err)
		return
	}
	prevEnt, err := j.t.stateKV.Get(ctx, key)
	if err != nil {
		j.retry(msg, "state get", &lb, err)
		return
	}
	prev, err := labels.ParseState(prevEnt.Value())
	if err != nil {
		j.retry(msg, "state parse", &lb, err)
		return
	}
	r, count := labels.Second(prev, lb.Label, meta.Sequence.Stream)
	if !count {
		_ = msg.Ack() // a redelivery of the label already counted
		return
	}
	j.settle(msg, r, &lb)
}

// settle acks a label and counts its result.
func (j *labelJoin) settle(msg jetstream.Msg, r labels.Result, lb *contracts.Label) {
	if err := msg.Ack(); err != nil {
		j.log.Warn("label join: ack failed; the label will be redelivered", "transaction_id", lb.TransactionID, "err", err)
	}
	j.m.Labels.WithLabelValues(string(r)).Inc()
	level := slog.LevelDebug
	if r == labels.ResultContradictory {
		level = slog.LevelWarn
	}
	j.log.Log(context.Background(), level, "label", "transaction_id", lb.TransactionID, "label", string(lb.Label),
		"source", lb.Source, "result", string(r))
}

// retry NAKs a label with delay after a KV failure.
func (j *labelJoin) retry(msg jetstream.Msg, step string, lb *contracts.Label, err error) {
	j.log.Warn("label join: "+step+" failed; retried", "transaction_id", lb.TransactionID, "err", err)
	_ = msg.NakWithDelay(j.lc.RetryDelay)
}

// deadLetter stores a label that did not decode or validate in the
// dead-letter stream, with the headers a dead transaction gets (reason,
// detail, original subject, stream sequence, deliveries, worker), card
// numbers masked, and only then terminates it; if the dead letter cannot
// be stored the label is NAKed with delay.
func (j *labelJoin) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, err error, txID string) {
	reason := contracts.ReasonMalformed
	var ve *contracts.ValidationError
	if errors.As(err, &ve) {
		reason = ve.Reason()
	}
	detail := sanitizeHeader(err.Error())
	out := j.w.deadLetterMsg(msg.Data(), reason, detail, msg.Subject(), meta.Stream, meta.Sequence.Stream, meta.NumDelivered, meta.Timestamp)
	if txID = sanitizeHeader(txID); txID != "" {
		out.Header.Set(contracts.HeaderDLQTransactionID, txID)
	}
	erase := redactDeadLetter(out) || panHeader(msg.Headers()) != ""
	if _, perr := j.w.js.PublishMsg(ctx, out); perr != nil {
		j.log.Warn("label dead letter not stored; NAK with delay", "stream_seq", meta.Sequence.Stream, "reason", reason, "err", perr)
		_ = msg.NakWithDelay(j.lc.RetryDelay)
		return
	}
	if erase {
		// The label stream keeps what it stores: a label holding card data
		// is overwritten in the store, not only terminated.
		if s, serr := j.w.js.Stream(ctx, meta.Stream); serr == nil {
			serr = s.SecureDeleteMsg(ctx, meta.Sequence.Stream)
			if serr != nil && !errors.Is(serr, jetstream.ErrMsgNotFound) {
				j.log.Warn("secure delete of a redacted label failed", "stream_seq", meta.Sequence.Stream, "err", serr)
			}
		}
	}
	if terr := msg.TermWithReason(reason); terr != nil {
		j.log.Warn("label term failed; it will be dead-lettered again (de-duplicated)", "stream_seq", meta.Sequence.Stream, "err", terr)
	}
	j.m.Labels.WithLabelValues(string(labels.ResultDeadLetter)).Inc()
	j.log.Info("label dead-lettered", "stream", meta.Stream, "stream_seq", meta.Sequence.Stream, "reason", reason, "detail", detail)
}
