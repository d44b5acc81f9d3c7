package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/tracing"
)

const maxDetail = 1024

// sanitizeHeader makes s a safe single-line header value of bounded length
// with every card number masked (contracts.RedactPANString): it is the one
// gate for text derived from input (error details, transaction ids,
// subjects) on its way to a header, an error reply or a log line.
func sanitizeHeader(s string) string {
	s = maskPANs(s)
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxDetail {
		cut := maxDetail
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// maskPANs returns s with every card number masked, s itself when it holds
// none.
func maskPANs(s string) string {
	masked, _ := contracts.RedactPANString(s)
	return masked
}

// redactDeadLetter masks every card number in the payload and in every
// header value of a dead letter about to be stored, whatever added them, and
// marks it with contracts.HeaderRedacted when anything was masked. It
// reports whether it masked anything. The headers the worker makes from
// numbers of its own (workerHeader) are left alone: a 19-digit store time
// in the Msg-Id may pass the Luhn check, and masking it would mark a clean
// dead letter as redacted. The input's bytes are not modified: the redacted
// payload is a copy.
func redactDeadLetter(m *nats.Msg) bool {
	data, n := contracts.RedactPANs(m.Data)
	m.Data = data
	n += maskInputHeaders(m.Header)
	if n == 0 {
		return false
	}
	m.Header.Set(contracts.HeaderRedacted, contracts.RedactedPAN)
	return true
}

// maskInputHeaders masks every card number in the values of h but those of
// workerHeader, and returns how many it masked. A masked value gets a new
// slice: the old one may be shared (a span's tracestate).
func maskInputHeaders(h map[string][]string) int {
	n := 0
	for k, vs := range h {
		if workerHeader(k) {
			continue
		}
		var out []string // a copy, made at the first masked value
		for i, v := range vs {
			masked, hn := contracts.RedactPANString(v)
			if hn == 0 {
				continue
			}
			if out == nil {
				out = append([]string(nil), vs...)
			}
			out[i] = masked
			n += hn
		}
		if out != nil {
			h[k] = out
		}
	}
	return n
}

// workerHeader reports whether k is a dead-letter header whose value the
// worker makes itself, never from the input.
func workerHeader(k string) bool {
	switch k {
	case contracts.HeaderMsgID, contracts.HeaderDLQReason, contracts.HeaderDLQStreamSeq,
		contracts.HeaderDLQDeliveries, contracts.HeaderDLQWorker,
		contracts.HeaderTraceparent: // formatted by the worker from parsed hex ids
		return true
	}
	return false
}

// cardDataOutsideContract says why an input whose payload decoded and
// validated still carries card data, "" when it does not: a subject, or a
// header name or value, that looks like a card number, or a card number
// anywhere in the payload outside the fields validation checks (an unknown
// field, a key, a long number). Such an input is refused as invalid
// (dead-lettered, or a 400 on request-reply): the worker does not read those
// bytes, but the server stored them with the input, and dead-lettering is
// what masks them in the stored copy and erases the input. The reason quotes
// no input but a header name, masked.
func cardDataOutsideContract(subject string, h map[string][]string, data []byte) string {
	if contracts.LooksLikePAN(subject) {
		return "subject: looks like a card number (PAN); send a token"
	}
	if name := panHeader(h); name != "" {
		return "header " + sanitizeHeader(name) + ": looks like a card number (PAN); send a token"
	}
	if contracts.ContainsPAN(data) {
		return "payload: a field the contract does not check looks like a card number (PAN); send a token"
	}
	return ""
}

// panHeader returns the name of the first header whose name or value looks
// like a card number (contracts.LooksLikePAN), "" when none does.
func panHeader(h map[string][]string) string {
	for k, vs := range h {
		if contracts.LooksLikePAN(k) {
			return k
		}
		if tracing.IsTraceparent(k, vs) {
			// Hex ids, not card data: about 1 random trace id in 230 holds a
			// digit run that passes the Luhn check.
			continue
		}
		for _, v := range vs {
			if contracts.LooksLikePAN(v) {
				return k
			}
		}
	}
	return ""
}

// dlqMsgID de-duplicates dead letters of one stored input message. The
// store time is part of it: sequences restart when a stream is recreated,
// and a new message must not be taken for an old one's duplicate.
func dlqMsgID(stream string, seq uint64, stored time.Time) string {
	return "dlq-" + stream + "-" + strconv.FormatUint(seq, 10) + "-" + strconv.FormatInt(stored.UnixNano(), 10)
}

// deadLetterMsg builds a dead letter: the original payload on
// <prefix><reason>, with the headers that say why and where it came from,
// and a Msg-Id that makes storing it twice a no-op. Call redactDeadLetter on
// it last, just before publishing.
func (w *Worker) deadLetterMsg(data []byte, reason, detail, subject, stream string, seq, deliveries uint64, stored time.Time) *nats.Msg {
	return &nats.Msg{
		Subject: w.cfg.DLQPrefix + reason,
		Data:    data,
		Header: nats.Header{
			contracts.HeaderMsgID:         []string{dlqMsgID(stream, seq, stored)},
			contracts.HeaderDLQReason:     []string{reason},
			contracts.HeaderDLQDetail:     []string{sanitizeHeader(detail)},
			contracts.HeaderDLQSubject:    []string{subject},
			contracts.HeaderDLQStreamSeq:  []string{strconv.FormatUint(seq, 10)},
			contracts.HeaderDLQDeliveries: []string{strconv.FormatUint(deliveries, 10)},
			contracts.HeaderDLQWorker:     []string{w.id},
		},
	}
}

// deadLetter stores the input in the dead-letter stream with its reason and
// only then terminates it (on a work-queue stream, Term deletes the message,
// so the order matters). If the dead letter cannot be stored the input is
// NAKed with a delay and tried again.
func (w *Worker) deadLetter(msg jetstream.Msg, meta *jetstream.MsgMetadata, reason, detail, txID string, sp *tracing.Span) {
	// The transaction id of an input that failed validation may be what
	// failed (a card number): it goes to a header and a log line masked.
	txID = sanitizeHeader(txID)
	detail = sanitizeHeader(detail)
	out := w.deadLetterMsg(msg.Data(), reason, detail, msg.Subject(), meta.Stream, meta.Sequence.Stream, meta.NumDelivered, meta.Timestamp)
	if txID != "" {
		out.Header.Set(contracts.HeaderDLQTransactionID, txID)
	}
	sp.Inject(out.Header) // before redactDeadLetter: a tracestate is input
	// The input held card data if its dead letter had to be masked or one
	// of its headers (not kept in the dead letter) looks like a card number
	// (the subject is kept, so masking it counts already).
	erase := redactDeadLetter(out) || panHeader(msg.Headers()) != ""
	// Asynchronous like verdicts: a dead-letter stream that is slow or down
	// must not hold a scoring goroutine (and the valid messages behind it).
	f, err := w.js.PublishMsgAsync(out, w.dlqPubOpts...)
	if err != nil {
		w.m.ConsumerErrors.WithLabelValues("dlq_publish").Inc()
		w.log.Warn("dead letter not stored; NAK with delay", "stream_seq", meta.Sequence.Stream, "reason", reason, "err", err)
		sp.End(tracing.Outcome{TransactionID: txID, DeadLetter: reason, Error: nakDLQError})
		w.nak(msg, meta, nakDLQError)
		return
	}
	sp.End(tracing.Outcome{TransactionID: txID, DeadLetter: reason})
	w.acks <- pending{msg: msg, future: f, txID: txID, delivery: meta.NumDelivered,
		dlq: &deadLetterInfo{reason: reason, detail: detail, seq: meta.Sequence.Stream, erase: erase}}
}

// finishDeadLetter terminates the input once its dead letter is stored (on
// a work-queue stream Term deletes it, so the order matters), or NAKs it
// with a delay when the dead letter could not be stored.
func (w *Worker) finishDeadLetter(p pending) {
	d := p.dlq
	select {
	case <-p.future.Ok():
	case err := <-p.future.Err():
		w.m.ConsumerErrors.WithLabelValues("dlq_publish").Inc()
		w.log.Warn("dead letter not stored; NAK with delay", "stream_seq", d.seq, "reason", d.reason, "err", err)
		meta, _ := p.msg.Metadata()
		w.nak(p.msg, meta, nakDLQError)
		return
	}
	if d.erase {
		// The input holds the card data the dead letter masked. Term
		// alone removes it from the stream but not from the server's files:
		// erase it first, off the ack loop (a round trip per such message).
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			w.eraseInput(ctx, d.seq)
			w.termDeadLetter(p)
		}()
		return
	}
	w.termDeadLetter(p)
}

// eraseInput overwrites input message seq in the server's store (a secure
// delete), so card data a dead letter masked does not stay behind in the
// input stream's files. A failure is logged: Term still removes the message
// from the stream.
func (w *Worker) eraseInput(ctx context.Context, seq uint64) {
	if err := w.input.SecureDeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		w.log.Warn("secure delete of a redacted input failed; Term removes it from the stream only", "stream_seq", seq, "err", err)
	}
}

// termDeadLetter terminates an input whose dead letter is stored, counts and
// logs it.
func (w *Worker) termDeadLetter(p pending) {
	d := p.dlq
	if err := p.msg.TermWithReason(d.reason); err != nil {
		w.log.Warn("term failed; the message will be redelivered and dead-lettered again (de-duplicated)", "stream_seq", d.seq, "err", err)
	}
	w.m.DeadLetters.WithLabelValues(d.reason).Inc()
	w.log.Info("dead-lettered", "transaction_id", p.txID, "reason", d.reason, "stream_seq", d.seq,
		"deliveries", p.delivery, "detail", d.detail, "erased", d.erase)
	w.done()
}

// maxDeliverAdvisory is the part of JetStream's max-deliveries advisory the
// worker reads.
type maxDeliverAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// handleAdvisory moves a message that reached MaxDeliver to the dead-letter
// stream and deletes it from the input. Advisories are captured in their own
// stream, so one that arrives while no worker runs is handled later; every
// step is idempotent, so a crash half-way is safe.
func (w *Worker) handleAdvisory(amsg jetstream.Msg) {
	var adv maxDeliverAdvisory
	if err := json.Unmarshal(amsg.Data(), &adv); err != nil || adv.StreamSeq == 0 {
		w.log.Warn("unreadable max-deliveries advisory; dropped", "err", err)
		_ = amsg.Term()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Three round trips follow, each up to 10 s against a slow or recovering
	// server: tell the server the advisory is being worked on, so it is not
	// redelivered to another worker meanwhile.
	_ = amsg.InProgress()
	raw, err := w.input.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		// Already moved, or acked at the last moment.
		_ = amsg.Ack()
		return
	}
	if err != nil {
		w.log.Warn("max-deliveries: read input message", "stream_seq", adv.StreamSeq, "err", err)
		_ = amsg.NakWithDelay(5 * time.Second)
		return
	}
	out := w.deadLetterMsg(raw.Data, contracts.ReasonMaxDeliveries,
		"delivered "+strconv.FormatUint(adv.Deliveries, 10)+" times without a stored verdict",
		raw.Subject, adv.Stream, adv.StreamSeq, adv.Deliveries, raw.Time)
	sp := w.tracer.Start(raw.Header, tracing.DeadLetter, raw.Subject)
	sp.Inject(out.Header)
	redactDeadLetter(out)
	_ = amsg.InProgress()
	if _, err := w.js.PublishMsg(ctx, out); err != nil {
		sp.End(tracing.Outcome{DeadLetter: contracts.ReasonMaxDeliveries, Error: "dlq_publish"})
		w.log.Warn("max-deliveries: store dead letter", "stream_seq", adv.StreamSeq, "err", err)
		_ = amsg.NakWithDelay(5 * time.Second)
		return
	}
	sp.End(tracing.Outcome{DeadLetter: contracts.ReasonMaxDeliveries})
	// Secure delete overwrites the message in the store: what the dead
	// letter masked does not stay behind in the input stream's files.
	if err := w.input.SecureDeleteMsg(ctx, adv.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		w.log.Warn("max-deliveries: delete input message", "stream_seq", adv.StreamSeq, "err", err)
		_ = amsg.NakWithDelay(5 * time.Second)
		return
	}
	_ = amsg.Ack()
	w.m.DeadLetters.WithLabelValues(contracts.ReasonMaxDeliveries).Inc()
	w.log.Warn("dead-lettered after max deliveries", "stream_seq", adv.StreamSeq, "deliveries", adv.Deliveries, "reason", contracts.ReasonMaxDeliveries)
}
