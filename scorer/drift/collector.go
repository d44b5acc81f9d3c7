package drift

import (
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector that exports, at scrape time, the PSI
// of every Monitor added to it:
//
//	fraudscore_score_psi{model_version}
//	fraudscore_feature_psi{model_version,feature}
//	fraudscore_drift_window_events{model_version}
//
// The labels are bounded: the served versions (a champion and perhaps a
// challenger) and the model's features. A version's PSI is exported once its
// window holds MinEvents events (or is full, if smaller); its window size
// always. The zero Collector is not usable: call NewCollector.
type Collector struct {
	score, feature, events *prometheus.Desc

	mu       sync.Mutex
	monitors map[string]*Monitor
}

// NewCollector returns an empty Collector; register it with the registry the
// caller passes around.
func NewCollector() *Collector {
	return &Collector{
		score: prometheus.NewDesc("fraudscore_score_psi",
			"Population stability index of the model's score over the drift window, against the holdout score distribution stored at training.",
			[]string{"model_version"}, nil),
		feature: prometheus.NewDesc("fraudscore_feature_psi",
			"Population stability index of one model feature over the drift window, against the holdout histogram stored at training.",
			[]string{"model_version", "feature"}, nil),
		events: prometheus.NewDesc("fraudscore_drift_window_events",
			"Scored events in the model version's drift window; PSI is exported from 1000 (or a full smaller window).",
			[]string{"model_version"}, nil),
		monitors: map[string]*Monitor{},
	}
}

// Add exports m, replacing any Monitor of the same version.
func (c *Collector) Add(m *Monitor) {
	c.mu.Lock()
	c.monitors[m.Version()] = m
	c.mu.Unlock()
}

// Remove stops exporting version (a version no longer served).
func (c *Collector) Remove(version string) {
	c.mu.Lock()
	delete(c.monitors, version)
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.score
	ch <- c.feature
	ch <- c.events
}

// Collect implements prometheus.Collector: it computes every monitor's PSI.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	ms := make([]*Monitor, 0, len(c.monitors))
	for _, m := range c.monitors {
		ms = append(ms, m)
	}
	c.mu.Unlock()
	slices.SortFunc(ms, func(a, b *Monitor) int { return strings.Compare(a.version, b.version) })
	for _, m := range ms {
		d := m.Drift()
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(d.Events), m.version)
		if d.Events < min(MinEvents, m.window) {
			continue
		}
		if !math.IsNaN(d.Score) {
			ch <- prometheus.MustNewConstMetric(c.score, prometheus.GaugeValue, d.Score, m.version)
		}
		for i, psi := range d.Features {
			if !math.IsNaN(psi) {
				ch <- prometheus.MustNewConstMetric(c.feature, prometheus.GaugeValue, psi, m.version, m.features[i])
			}
		}
	}
}
