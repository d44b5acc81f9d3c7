package lifecycle

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
)

// metrics are the lifecycle's Prometheus metrics. The first four keep the
// names they had when the worker exported them (dashboards and alerts read
// them); fraudscore_model_info names the champion alone, so that the alert
// on versions mixed within a namespace does not fire during a trial.
type metrics struct {
	loadTime    prometheus.Gauge     // model_load_timestamp (champion)
	createdTime prometheus.Gauge     // fraudscore_model_created_timestamp (champion)
	info        *prometheus.GaugeVec // fraudscore_model_info{model_version} (champion)
	loadFailure prometheus.Counter   // fraudscore_model_load_failures_total

	challengerInfo *prometheus.GaugeVec     // fraudscore_challenger_info{model_version}
	score          *prometheus.HistogramVec // fraudscore_score{model_version}
	errors         *prometheus.CounterVec   // fraudscore_challenger_errors_total{challenger_version}
	decisions      *prometheus.CounterVec   // fraudscore_challenger_decisions_total{...}

	reasons          *prometheus.CounterVec // fraudscore_reasons_total{model_version,code}
	reasonsAvailable *prometheus.GaugeVec   // fraudscore_reasons_available{model_version}
}

// scoreBuckets suit probabilities: finer near 0, where most legitimate
// traffic scores, and around the usual review and decline thresholds.
var scoreBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		loadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "model_load_timestamp", Help: "Unix time at which the champion model in use was loaded.",
		}),
		createdTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fraudscore_model_created_timestamp", Help: "Unix time at which the champion model in use was trained (its metadata created_at).",
		}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fraudscore_model_info", Help: "1 for the champion model version in use (models/latest).",
		}, []string{"model_version"}),
		loadFailure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudscore_model_load_failures_total", Help: "Model versions (champion or challenger) refused at load or reload (sha256, parity gate, features).",
		}),
		challengerInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fraudscore_challenger_info", Help: "1 for the challenger model version on trial (models/challenger), absent without one.",
		}, []string{"model_version"}),
		score: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fraudscore_score", Help: "Scores of every served model version, deciding or in shadow.", Buckets: scoreBuckets,
		}, []string{"model_version"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_challenger_errors_total", Help: "Errors and panics of a model scoring beside the decider (in shadow, or a challenger that could not decide its share); the decider's verdict stands.",
		}, []string{"challenger_version"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_challenger_decisions_total", Help: "Transactions scored by both models, by each model's decision.",
		}, []string{"champion_version", "challenger_version", "champion_decision", "challenger_decision"}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudscore_reasons_total", Help: "Reason codes given in verdicts, by the deciding model version and code (every code of a version's table created at 0 when it loads).",
		}, []string{"model_version", "code"}),
		reasonsAvailable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fraudscore_reasons_available", Help: "1 when a served model version can give reason codes (it has a reason table and node covers), 0 when its verdicts carry none.",
		}, []string{"model_version"}),
	}
	reg.MustRegister(m.loadTime, m.createdTime, m.info, m.loadFailure, m.challengerInfo, m.score, m.errors, m.decisions,
		m.reasons, m.reasonsAvailable)
	return m
}

// pairCounters returns the decision counters of a champion/challenger pair,
// created at 0 so that increase() sees the first event.
func (m *metrics) pairCounters(champion, challenger string) *[3][3]prometheus.Counter {
	var c [3][3]prometheus.Counter
	for i, a := range contracts.Decisions {
		for j, b := range contracts.Decisions {
			c[i][j] = m.decisions.WithLabelValues(champion, challenger, string(a), string(b))
		}
	}
	return &c
}
