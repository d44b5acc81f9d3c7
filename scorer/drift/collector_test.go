package drift_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/scorer/drift"
)

// gather scrapes c through a registry and returns every sample as
// `name{label="value",...}` -> value.
func gather(t *testing.T, c *drift.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Error(err)
		return nil
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Error(err)
		return nil
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestCollector(t *testing.T) {
	c := drift.NewCollector()
	if got := gather(t, c); len(got) != 0 {
		t.Fatalf("no monitors: %v, want nothing", got)
	}
	full, err := drift.NewMonitor("v20260101_000000", testFeatures, testBaseline(), 100)
	if err != nil {
		t.Fatal(err)
	}
	a, b, s := []int{40, 30, 20, 10}, []int{50, 50}, []int{20, 30, 50}
	observe(full, events(a, b, s))
	young, err := drift.NewMonitor("v20260202_000000", testFeatures, testBaseline(), 2*drift.MinEvents)
	if err != nil {
		t.Fatal(err)
	}
	observe(young, events(a, b, s)) // 100 events: fewer than MinEvents
	c.Add(full)
	c.Add(young)
	base := testBaseline()
	want := map[string]float64{
		`fraudscore_drift_window_events{model_version="v20260101_000000"}`:     100,
		`fraudscore_drift_window_events{model_version="v20260202_000000"}`:     100,
		`fraudscore_score_psi{model_version="v20260101_000000"}`:               drift.PSI(base.Score.Counts, floats(20, 30, 50, 0)),
		`fraudscore_feature_psi{feature="a",model_version="v20260101_000000"}`: drift.PSI(base.Features["a"].Counts, floats(a...)),
		`fraudscore_feature_psi{feature="b",model_version="v20260101_000000"}`: drift.PSI(base.Features["b"].Counts, floats(50, 50, 0)),
	}
	assertSamples(t, gather(t, c), want)

	c.Remove("v20260101_000000")
	assertSamples(t, gather(t, c), map[string]float64{`fraudscore_drift_window_events{model_version="v20260202_000000"}`: 100})
}

func assertSamples(t *testing.T, got, want map[string]float64) {
	t.Helper()
	keys := func(m map[string]float64) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if !slices.Equal(keys(got), keys(want)) {
		t.Fatalf("samples:\n%v\nwant:\n%v", keys(got), keys(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
