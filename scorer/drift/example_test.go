package drift_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/scorer/drift"
)

// A Monitor compares the last events of one model version with the
// baseline stored at training; a Collector exports its PSI at scrape time.
func Example() {
	baseline := drift.Baseline{
		// The holdout scores: 80 rows up to 0.1, 15 up to 0.5, 5 above; no missing score.
		Score: drift.Histogram{Edges: []float64{0.1, 0.5, 1}, Counts: []float64{80, 15, 5, 0}},
		Features: map[string]drift.Histogram{
			// A binary feature: 90 rows 0, 10 rows 1, none missing.
			"card_not_present": {Edges: []float64{0, 1}, Counts: []float64{90, 10, 0}},
		},
	}
	m, err := drift.NewMonitor("v20260101_000000", []string{"card_not_present"}, baseline, 1000)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Live traffic: card-not-present doubled, scores higher.
	for i := range 1000 {
		cnp, score := 0.0, 0.05
		if i%5 == 0 {
			cnp = 1
		}
		if i%10 == 0 {
			score = 0.3
		}
		m.Observe([]float64{cnp}, score)
	}
	d := m.Drift()
	fmt.Printf("%d events: score PSI %.3f, card_not_present PSI %.3f\n", d.Events, d.Score, d.Features[0])

	c := drift.NewCollector()
	c.Add(m)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		fmt.Println(mf.GetName(), len(mf.GetMetric()))
	}
	// Output:
	// 1000 events: score PSI 0.342, card_not_present PSI 0.081
	// fraudscore_drift_window_events 1
	// fraudscore_feature_psi 1
	// fraudscore_score_psi 1
}
