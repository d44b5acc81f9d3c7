package drift_test

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/features"
)

// A small baseline: feature "a" has bins (..1], (1,2], (2..) and missing;
// feature "b" is binary; the score has three bins.
var testFeatures = []string{"a", "b"}

func testBaseline() drift.Baseline {
	return drift.Baseline{
		Score: drift.Histogram{Edges: []float64{0.1, 0.5, 1}, Counts: []float64{70, 20, 10, 0}},
		Features: map[string]drift.Histogram{
			"a": {Edges: []float64{1, 2, 3}, Counts: []float64{10, 20, 30, 40}},
			"b": {Edges: []float64{0, 1}, Counts: []float64{75, 25, 0}},
		},
	}
}

// event is one scored event of the test model.
type event struct {
	a, b, score float64
}

var (
	aValues     = []float64{0.5, 1.5, 7, math.NaN()}
	bValues     = []float64{0, 1}
	scoreValues = []float64{0.05, 0.3, 0.9}
)

// events returns the events whose histograms are the given counts per bin
// of a, b and the score (missing bins of b and score left out).
func events(a, b, score []int) []event {
	n := 0
	for _, c := range a {
		n += c
	}
	evs := make([]event, 0, n)
	for i, c := range a {
		for range c {
			evs = append(evs, event{a: aValues[i]})
		}
	}
	k := 0
	for i, c := range b {
		for range c {
			evs[k].b = bValues[i]
			k++
		}
	}
	k = 0
	for i, c := range score {
		for range c {
			evs[k].score = scoreValues[i]
			k++
		}
	}
	return evs
}

func observe(m *drift.Monitor, evs []event) {
	for _, e := range evs {
		m.Observe([]float64{e.a, e.b}, e.score)
	}
}

func floats(xs ...int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func TestMonitorBaselineDistributionHasZeroPSI(t *testing.T) {
	m, err := drift.NewMonitor("v1", testFeatures, testBaseline(), 100)
	if err != nil {
		t.Fatal(err)
	}
	observe(m, events([]int{10, 20, 30, 40}, []int{75, 25}, []int{70, 20, 10}))
	d := m.Drift()
	if d.Events != 100 || d.Score != 0 || d.Features[0] != 0 || d.Features[1] != 0 {
		t.Fatalf("baseline distribution: %+v, want 100 events and PSI 0 everywhere", d)
	}
}

func TestMonitorShiftedDistribution(t *testing.T) {
	m, err := drift.NewMonitor("v1", testFeatures, testBaseline(), 100)
	if err != nil {
		t.Fatal(err)
	}
	a, b, s := []int{40, 30, 20, 10}, []int{50, 50}, []int{20, 30, 50}
	observe(m, events(a, b, s))
	d := m.Drift()
	base := testBaseline()
	want := drift.Drift{
		Events: 100,
		Score:  drift.PSI(base.Score.Counts, floats(append(s, 0)...)),
		Features: []float64{
			drift.PSI(base.Features["a"].Counts, floats(a...)),
			drift.PSI(base.Features["b"].Counts, floats(append(b, 0)...)),
		},
	}
	// a: (0.4-0.1)ln4 + (0.3-0.2)ln1.5 + (0.2-0.3)ln(2/3) + (0.1-0.4)ln(1/4)
	if wantA := 0.6*math.Log(4) + 0.2*math.Log(1.5); math.Abs(want.Features[0]-wantA) > 1e-12 {
		t.Fatalf("PSI of a = %v, by hand %v", want.Features[0], wantA)
	}
	if d.Events != want.Events || d.Score != want.Score || d.Features[0] != want.Features[0] || d.Features[1] != want.Features[1] {
		t.Fatalf("shifted: %+v, want %+v", d, want)
	}
	if d.Score <= 0.25 || d.Features[0] <= 0.25 {
		t.Fatalf("a shift this large is a major one (PSI > 0.25): %+v", d)
	}
}

func TestMonitorWindowEvicts(t *testing.T) {
	m, err := drift.NewMonitor("v1", testFeatures, testBaseline(), 100)
	if err != nil {
		t.Fatal(err)
	}
	shifted := events([]int{40, 30, 20, 10}, []int{50, 50}, []int{20, 30, 50})
	observe(m, shifted)
	observe(m, events([]int{10, 20, 30, 40}, []int{75, 25}, []int{70, 20, 10}))
	if d := m.Drift(); d.Events != 100 || d.Score != 0 || d.Features[0] != 0 || d.Features[1] != 0 {
		t.Fatalf("after a full window of baseline events the shifted ones are gone: %+v", d)
	}
	// Half a window more of the shifted events: the window holds the last 50
	// baseline events and those 50.
	observe(m, shifted[:50]) // a: 40 in bin 0, 10 in bin 1; b: 50 zeros; score: 20, 30
	// The baseline events were fed bin by bin: their last 50 are a's 10 of
	// bin 2 and 40 missing, b's 25 zeros and 25 ones, the score's 20, 20, 10.
	want := []float64{
		drift.PSI(testBaseline().Features["a"].Counts, floats(40, 10, 10, 40)),
		drift.PSI(testBaseline().Features["b"].Counts, floats(75, 25, 0)),
	}
	wantScore := drift.PSI(testBaseline().Score.Counts, floats(20+20, 30+20, 0+10, 0))
	d := m.Drift()
	if d.Events != 100 || d.Features[0] != want[0] || d.Features[1] != want[1] || d.Score != wantScore {
		t.Fatalf("mixed window: %+v, want features %v score %v", d, want, wantScore)
	}
}

func TestMonitorShortRowCountsMissing(t *testing.T) {
	m, err := drift.NewMonitor("v1", testFeatures, testBaseline(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		m.Observe([]float64{0.5}, 0.05)
	}
	want := drift.PSI(testBaseline().Features["b"].Counts, floats(0, 0, 10))
	if d := m.Drift(); d.Features[1] != want {
		t.Fatalf("b absent from every row: PSI %v, want %v (all missing)", d.Features[1], want)
	}
}

func TestNewMonitorRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*drift.Baseline)
		want error
	}{
		{"no feature baselines", func(b *drift.Baseline) { b.Features = nil }, drift.ErrNoBaseline},
		{"no score distribution", func(b *drift.Baseline) { b.Score = drift.Histogram{} }, drift.ErrNoBaseline},
		{"feature without histogram", func(b *drift.Baseline) { delete(b.Features, "b") }, drift.ErrInvalidBaseline},
		{"edges out of order", func(b *drift.Baseline) {
			b.Features["a"] = drift.Histogram{Edges: []float64{2, 1}, Counts: []float64{1, 1, 1}}
		}, drift.ErrInvalidBaseline},
		{"repeated edge", func(b *drift.Baseline) {
			b.Features["a"] = drift.Histogram{Edges: []float64{1, 1}, Counts: []float64{1, 1, 1}}
		}, drift.ErrInvalidBaseline},
		{"NaN edge", func(b *drift.Baseline) {
			b.Features["a"] = drift.Histogram{Edges: []float64{math.NaN()}, Counts: []float64{1, 1}}
		}, drift.ErrInvalidBaseline},
		{"counts too short", func(b *drift.Baseline) {
			b.Features["a"] = drift.Histogram{Edges: []float64{1, 2}, Counts: []float64{1, 1}}
		}, drift.ErrInvalidBaseline},
		{"negative count", func(b *drift.Baseline) {
			b.Features["a"] = drift.Histogram{Edges: []float64{1}, Counts: []float64{-1, 2}}
		}, drift.ErrInvalidBaseline},
		{"no rows", func(b *drift.Baseline) {
			b.Features["a"] = drift.Histogram{Edges: []float64{1}, Counts: []float64{0, 0}}
		}, drift.ErrInvalidBaseline},
		{"too many edges", func(b *drift.Baseline) {
			h := drift.Histogram{Counts: make([]float64, drift.MaxEdges+2)}
			for i := range drift.MaxEdges + 1 {
				h.Edges = append(h.Edges, float64(i))
			}
			h.Counts[0] = 1
			b.Features["a"] = h
		}, drift.ErrInvalidBaseline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testBaseline()
			tc.edit(&b)
			m, err := drift.NewMonitor("v1", testFeatures, b, 10)
			if !errors.Is(err, tc.want) || m != nil {
				t.Fatalf("NewMonitor = %v, %v; want an error wrapping %v", m, err, tc.want)
			}
		})
	}
}

func TestMonitorObserveDoesNotAllocate(t *testing.T) {
	m, err := drift.NewMonitor("v1", testFeatures, testBaseline(), 100)
	if err != nil {
		t.Fatal(err)
	}
	row := []float64{1.5, 1}
	if n := testing.AllocsPerRun(1000, func() { m.Observe(row, 0.3) }); n != 0 {
		t.Fatalf("Observe allocates %v times per event, want 0", n)
	}
}

// TestMonitorConcurrent observes from several goroutines while others read
// the drift; with a window as large as all the events, the final counts do
// not depend on the interleaving.
func TestMonitorConcurrent(t *testing.T) {
	const goroutines = 8
	evs := events([]int{40, 30, 20, 10}, []int{50, 50}, []int{20, 30, 50})
	m, err := drift.NewMonitor("v1", testFeatures, testBaseline(), goroutines*len(evs))
	if err != nil {
		t.Fatal(err)
	}
	c := drift.NewCollector()
	c.Add(m)
	var wg sync.WaitGroup
	done := make(chan struct{})
	var reads sync.WaitGroup
	reads.Add(1)
	go func() {
		defer reads.Done()
		for {
			select {
			case <-done:
				return
			default:
				d := m.Drift()
				if d.Events > goroutines*len(evs) {
					t.Errorf("window holds %d events, more than fed", d.Events)
				}
				gather(t, c)
			}
		}
	}()
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			observe(m, evs)
		}()
	}
	wg.Wait()
	close(done)
	reads.Wait()
	base := testBaseline()
	d := m.Drift()
	if d.Events != goroutines*len(evs) ||
		d.Features[0] != drift.PSI(base.Features["a"].Counts, floats(40*goroutines, 30*goroutines, 20*goroutines, 10*goroutines)) ||
		d.Score != drift.PSI(base.Score.Counts, floats(20*goroutines, 30*goroutines, 50*goroutines, 0)) {
		t.Fatalf("after concurrent observes: %+v", d)
	}
}

// TestMonitorSkipsClockFeatures: hour of day and day of week are not
// compared (a window covers minutes of the clock), need no histogram, and
// the other features are read from their own positions in the row.
func TestMonitorSkipsClockFeatures(t *testing.T) {
	b := testBaseline() // no histogram for the clock features
	m, err := drift.NewMonitor("v1", []string{features.HourOfDay, "a", features.DayOfWeek, "b"}, b, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Features(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("compared features %v, want [a b]", got)
	}
	for _, e := range events([]int{40, 30, 20, 10}, []int{50, 50}, []int{20, 30, 50}) {
		m.Observe([]float64{13, e.a, 6, e.b}, e.score)
	}
	d := m.Drift()
	if d.Features[0] != drift.PSI(b.Features["a"].Counts, floats(40, 30, 20, 10)) || d.Features[1] != drift.PSI(b.Features["b"].Counts, floats(50, 50, 0)) {
		t.Fatalf("drift %+v: the compared features were not read from their positions", d)
	}
}
