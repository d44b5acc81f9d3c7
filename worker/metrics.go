package worker

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fraudscore/fraudscore/contracts"
)

// Metrics are the worker's Prometheus metrics. The first three keep the
// names and labels of fraudscore's seed design so existing dashboards carry
// over; the rest are fraudscore_*. No label holds a transaction id. The
// model metrics (load time, info, load failures, trial metrics) belong to
// the model lifecycle (scorer/lifecycle).
type Metrics struct {
	// Seed metrics.
	Predictions       *prometheus.CounterVec   // model_predictions_total{model_version,status}
	PredictionLatency *prometheus.HistogramVec // model_prediction_latency_seconds{model_version}
	FraudPredictions  *prometheus.CounterVec   // fraud_predictions_total{model_version}

	Received       prometheus.Counter
	Acked          prometheus.Counter
	Naked          *prometheus.CounterVec // reason
	DeadLetters    *prometheus.CounterVec // reason
	Verdicts       *prometheus.CounterVec // decision, source
	EndToEnd       prometheus.Histogram
	InFlight       prometheus.Gauge
	NumPending     prometheus.Gauge
	NumAckPending  prometheus.Gauge
	NumRedelivered prometheus.Gauge
	ConsumerErrors *prometheus.CounterVec // kind
	Requests       *prometheus.CounterVec // status
	RequestLatency prometheus.Histogram
	Ready          prometheus.Gauge
	Reconnects     prometheus.Counter
	SetupRetries   prometheus.Counter
	// Archived counts the archive copies of scored transactions by result
	// (archiveStored, archiveDuplicate, archiveFailed); only with
	// FRAUDSCORE_ARCHIVE.
	Archived *prometheus.CounterVec // result
	// Labels are the label join's metrics (labels_metrics.go).
	Labels *LabelMetrics
}

// Reasons of a NAK with delay, the label values of
// fraudscore_messages_nacked_total.
const (
	nakScoreError   = "score_error"   // the scorer failed
	nakPublishError = "publish_error" // the verdict could not be published
	nakPubAckError  = "puback_error"  // the verdict was not stored
	nakDLQError     = "dlq_error"     // the dead letter was not stored
	nakEnrichError  = "enrich_error"  // the Enricher failed (Options.Enricher)
)

var nakReasons = [...]string{nakScoreError, nakPublishError, nakPubAckError, nakDLQError, nakEnrichError}

// Latency buckets from 50 µs to 5 s: scoring sits in the first buckets,
// end-to-end latency under backlog in the last.
var latencyBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// NewMetrics creates the metrics and registers them, with the Go and process
// collectors and fraudscore_build_info, on reg.
func NewMetrics(reg prometheus.Registerer, version, commit string) *Metrics {
	m := &Metrics{
		Predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "model_predictions_total", Help: "Predictions made, by model version and status (success or error).",
		}, []string{"model_version", "status"}),
		PredictionLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "model_prediction_latency_seconds", Help: "In-process scoring time (features, trees, policy).", Buckets: latencyBuckets,
		}, []string{"model_version"}),
		FraudPredictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraud_predictions_total", Help: "Predictions whose decision was not approve (review or decline).",
		}, []string{"model_version"}),
		Received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudscore_messages_received_total", Help: "Transaction messages delivered to this worker (redeliveries included).",
		}),
		Acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudscore_messages_acked_total", Help: "Transaction messages acknowledged after their verdict was stored.",
		}),
		Naked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_messages_nacked_total", Help: "Transaction messages NAKed with a delay, by reason.",
		}, []string{"reason"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_dead_letters_total", Help: "Messages moved to the dead-letter stream, by reason.",
		}, []string{"reason"}),
		Verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_verdicts_total", Help: "Verdicts stored, by decision and source (stream or request).",
		}, []string{"decision", "source"}),
		EndToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fraudscore_end_to_end_latency_seconds", Help: "From the transaction's JetStream timestamp to its verdict's PubAck.", Buckets: latencyBuckets,
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fraudscore_in_flight_messages", Help: "Messages received and not yet acked, terminated or NAKed.",
		}),
		NumPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fraudscore_consumer_num_pending", Help: "Messages in the stream not yet delivered to the consumer (polled).",
		}),
		NumAckPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fraudscore_consumer_num_ack_pending", Help: "Messages delivered to the consumer and not yet acked, fleet-wide (polled).",
		}),
		NumRedelivered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fraudscore_consumer_num_redelivered", Help: "Messages redelivered and not yet acked, fleet-wide (polled).",
		}),
		ConsumerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_consumer_errors_total", Help: "Errors reported by the pull consumer or the publisher, by kind.",
		}, []string{"kind"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_requests_total", Help: "Request-reply score requests, by status code.",
		}, []string{"code"}),
		RequestLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fraudscore_request_latency_seconds", Help: "Request-reply handling time in the worker.", Buckets: latencyBuckets,
		}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fraudscore_ready", Help: "1 while the worker is ready (connected, model loaded, consumer bound, not draining).",
		}),
		Reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudscore_nats_reconnects_total", Help: "Reconnections to NATS.",
		}),
		SetupRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudscore_setup_retries_total", Help: "JetStream setup attempts (streams, consumers) at start that failed transiently and were retried.",
		}),
		Archived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_archive_publishes_total", Help: "Archive copies of scored transactions (FRAUDSCORE_ARCHIVE), by result: stored, duplicate (a redelivery, already stored) or failed (not stored, best effort: the verdict is not held back).",
		}, []string{"result"}),
	}
	m.precreate()
	m.Labels = newLabelMetrics(reg)
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fraudscore_build_info", Help: "Build information; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
	})
	build.Set(1)
	reg.MustRegister(m.Predictions, m.PredictionLatency, m.FraudPredictions,
		m.Received, m.Acked, m.Naked, m.DeadLetters, m.Verdicts, m.EndToEnd, m.InFlight,
		m.NumPending, m.NumAckPending, m.NumRedelivered, m.ConsumerErrors, m.Requests, m.RequestLatency,
		m.Ready, m.Reconnects, m.SetupRetries, m.Archived, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// precreate exports at 0 every series whose label values are known at
// start, so that the first event is an increase from 0: rate() and
// increase() see nothing of a series whose first sample is already 1.
func (m *Metrics) precreate() {
	for _, r := range contracts.DeadLetterReasons {
		m.DeadLetters.WithLabelValues(r)
	}
	for _, r := range nakReasons {
		m.Naked.WithLabelValues(r)
	}
	for _, c := range requestCodes {
		m.Requests.WithLabelValues(c)
	}
}

// SetModel records a model version that starts serving (deciding or in
// shadow): its model_predictions_total series (success and error),
// fraud_predictions_total and latency histogram exist from 0, so the first
// scoring error of a version is visible to increase() and rate(). The
// lifecycle calls it through its OnServe option.
func (m *Metrics) SetModel(version string) {
	m.Predictions.WithLabelValues(version, predictionSuccess)
	m.Predictions.WithLabelValues(version, predictionError)
	m.FraudPredictions.WithLabelValues(version)
	m.PredictionLatency.WithLabelValues(version)
}

// Values of the status label of model_predictions_total.
const (
	predictionSuccess = "success"
	predictionError   = "error"
)
