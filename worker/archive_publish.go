package worker

import (
	"encoding/json"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
)

// Results of an archive copy, the label values of
// fraudscore_archive_publishes_total.
const (
	archiveStored    = "stored"    // the copy was stored
	archiveDuplicate = "duplicate" // a redelivery: the copy was already stored
	archiveFailed    = "failed"    // not stored (best effort: the verdict goes on)
)

// archiver publishes the archive copies of scored transactions
// (FRAUDSCORE_ARCHIVE, ADR 0021). It is nil when the archive is off, and
// then costs the stream path one nil check.
type archiver struct {
	prefix      string // ArchivePrefix
	inputPrefix string // the input subjects' literal prefix, "" without a trailing ">"
	futures     chan jetstream.PubAckFuture
	stored      prometheus.Counter
	duplicate   prometheus.Counter
	failed      prometheus.Counter
}

func newArchiver(cfg *Config, m *Metrics) *archiver {
	a := &archiver{
		prefix:    cfg.ArchivePrefix,
		stored:    m.Archived.WithLabelValues(archiveStored),
		duplicate: m.Archived.WithLabelValues(archiveDuplicate),
		failed:    m.Archived.WithLabelValues(archiveFailed),
	}
	if p, ok := strings.CutSuffix(cfg.Subjects, ">"); ok && strings.HasSuffix(p, ".") {
		a.inputPrefix = p
	}
	return a
}

// subject maps an input subject to its archive subject: the archive prefix
// followed by what the input subject has after the input stream's wildcard
// prefix (payments.transactions.card -> fraud.archive.card), or by its last
// token when the input subjects are not a prefix wildcard.
func (a *archiver) subject(input string) string {
	if rest, ok := strings.CutPrefix(input, a.inputPrefix); ok && a.inputPrefix != "" && rest != "" {
		return a.prefix + rest
	}
	return a.prefix + input[strings.LastIndexByte(input, '.')+1:]
}

var eventSchemaHdr = []string{contracts.TransactionEventSchemaV1}

// asScored returns what the archive keeps of a scored input: its payload as
// received, or, with an Enricher (velocity), the event as scored, which
// carries the aggregates the model saw, so that a backtest replaying the
// archive (policy backtest -from-stream) scores what production scored
// rather than an event without its velocity. ev passed validation and the
// Enricher sets only aggregates, so the encoding holds no card number
// either. An event that cannot be encoded (none can: its fields are plain
// values) is archived as received.
func (w *Worker) asScored(data []byte, ev *contracts.TransactionEvent) []byte {
	if w.enricher == nil {
		return data
	}
	b, err := json.Marshal(ev)
	if err != nil {
		w.log.Warn("archive copy kept as received: the scored event does not encode", "transaction_id", ev.TransactionID, "err", err)
		return data
	}
	return b
}

// archive publishes the copy of a scored input (asScored: it passed
// validation, so it holds no card number), Msg-Id = transaction id so that
// a redelivery is stored once. Best effort: a failure is
// counted and logged, never NAKed; the verdict's path is unchanged.
func (w *Worker) archive(subject string, data []byte, txID string) {
	out := &nats.Msg{
		Subject: w.archiver.subject(subject),
		Data:    data,
		Header: nats.Header{
			contracts.HeaderMsgID:  []string{txID},
			contracts.HeaderSchema: eventSchemaHdr,
		},
	}
	f, err := w.js.PublishMsgAsync(out, w.verdictPubOpts...)
	if err != nil {
		w.archiver.failed.Inc()
		w.log.Warn("archive copy not published", "transaction_id", txID, "err", err)
		return
	}
	w.archiver.futures <- f
}

// archiveLoop counts the archive copies' PubAcks until futures is closed.
func (w *Worker) archiveLoop(futures <-chan jetstream.PubAckFuture) {
	for f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				w.archiver.duplicate.Inc()
			} else {
				w.archiver.stored.Inc()
			}
		case err := <-f.Err():
			w.archiver.failed.Inc()
			w.log.Warn("archive copy not stored", "subject", maskPANs(f.Msg().Subject), "err", err)
		}
	}
}
