package worker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/worker/labels"
)

// LabelMetrics are the label join's metrics (docs/labels.md). They are
// registered with the worker's metrics whether or not the join runs, at 0,
// so dashboards and alerts find them on every worker.
type LabelMetrics struct {
	// Decisions is fraudscore_labelled_decisions_total{model_version,rule,
	// decision,label}: realised confusion counts. rule is the deciding
	// analyst rule, or "model" when no rule changed the model's decision.
	// Bounded: model versions and rule names served within the horizon,
	// three decisions, two labels.
	Decisions *prometheus.CounterVec
	// Labels is fraudscore_labels_total{result}: every label read, by what
	// became of it (labels.Results).
	Labels *prometheus.CounterVec
	// Indexed is fraudscore_verdicts_indexed_total: verdicts written to the
	// verdict index.
	Indexed prometheus.Counter
}

// newLabelMetrics creates the label metrics with every result at 0 and
// registers them on reg.
func newLabelMetrics(reg prometheus.Registerer) *LabelMetrics {
	m := &LabelMetrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_labelled_decisions_total",
			Help: "Decisions whose transaction got a label (first label per transaction), by model version, deciding rule (model when no rule decided), decision and label (fraud or legit).",
		}, []string{"model_version", "rule", "decision", "label"}),
		Labels: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_labels_total",
			Help: "Labels read, by result: joined, unknown (no verdict within the wait), duplicate, contradictory, dead_letter.",
		}, []string{"result"}),
		Indexed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudscore_verdicts_indexed_total", Help: "Verdicts written to the verdict index for the label join.",
		}),
	}
	for _, r := range labels.Results {
		m.Labels.WithLabelValues(string(r))
	}
	reg.MustRegister(m.Decisions, m.Labels, m.Indexed)
	return m
}
