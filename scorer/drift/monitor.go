package drift

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// DefaultWindow is the number of scored events a Monitor keeps by default.
const DefaultWindow = 10_000

// MinEvents is how many events a window must hold before its PSI is
// exported (or all of a smaller window): on a few events the PSI of even an
// unchanged distribution is large (its expected value grows like the number
// of bins over the number of events), so a restarted worker would otherwise
// alert on its first transactions.
const MinEvents = 1_000

// Monitor keeps the bin indexes of the last window scored events of one
// model version (every feature and the score) and the live count per bin,
// updated incrementally. Observe does not allocate; a Monitor is safe for
// concurrent use.
type Monitor struct {
	version string
	// features are the compared features' names, in the order of cols.
	features []string
	// cols are the compared features in row order, then the score.
	cols []column

	mu sync.Mutex
	// ring holds len(cols) bin indexes per event, window events.
	ring   []uint8
	counts []uint32
	next   int
	filled int
	window int
}

type column struct {
	// pos is the feature's index in an observed row (-1 for the score).
	pos      int
	edges    []float64
	expected []float64
	// off is the column's first bin in Monitor.counts.
	off int
}

// NewMonitor builds the window of one model version: features are the
// model's feature names in the order of the rows given to Observe, b the
// version's baseline (BaselineFrom) and window the number of events kept
// (DefaultWindow when window <= 0). Every feature that Compared accepts is
// compared, the others are skipped. It returns an error wrapping
// ErrNoBaseline when b holds no feature baselines or no score distribution,
// and ErrInvalidBaseline when a histogram is malformed or a compared
// feature has none: the caller logs it once and exports nothing for the
// version.
func NewMonitor(version string, features []string, b Baseline, window int) (*Monitor, error) {
	if window <= 0 {
		window = DefaultWindow
	}
	if len(b.Features) == 0 || len(b.Score.Edges) == 0 {
		return nil, fmt.Errorf("%w for model version %s", ErrNoBaseline, version)
	}
	m := &Monitor{version: version, window: window}
	var errs []error
	add := func(name string, pos int, h Histogram, ok bool) {
		if !ok {
			errs = append(errs, fmt.Errorf("feature %s has no histogram", name))
			return
		}
		if err := h.check(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		off := 0
		if n := len(m.cols); n > 0 {
			off = m.cols[n-1].off + len(m.cols[n-1].expected)
		}
		m.cols = append(m.cols, column{pos: pos, edges: h.Edges, expected: h.Counts, off: off})
		if pos >= 0 {
			m.features = append(m.features, name)
		}
	}
	for i, f := range features {
		if Compared(f) {
			h, ok := b.Features[f]
			add(f, i, h, ok)
		}
	}
	add("score", -1, b.Score, true)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w for model version %s: %w", ErrInvalidBaseline, version, errors.Join(errs...))
	}
	last := m.cols[len(m.cols)-1]
	m.counts = make([]uint32, last.off+len(last.expected))
	m.ring = make([]uint8, window*len(m.cols))
	return m, nil
}

// Version is the model version the Monitor watches.
func (m *Monitor) Version() string { return m.version }

// Features are the names of the compared features, in the order of
// Drift.Features.
func (m *Monitor) Features() []string { return append([]string(nil), m.features...) }

// Observe records one scored event: row holds the model's features in the
// order given to NewMonitor (a value past the end of a short row counts as
// missing, values past the features are ignored) and score the model's
// score. The oldest event leaves a full window. Observe does not allocate.
func (m *Monitor) Observe(row []float64, score float64) {
	nf := len(m.cols) - 1
	m.mu.Lock()
	slot := m.ring[m.next*len(m.cols) : (m.next+1)*len(m.cols)]
	if m.filled == m.window {
		for c := range m.cols {
			m.counts[m.cols[c].off+int(slot[c])]--
		}
	} else {
		m.filled++
	}
	for c := 0; c < nf; c++ {
		v := math.NaN()
		if p := m.cols[c].pos; p < len(row) {
			v = row[p]
		}
		b := Bin(m.cols[c].edges, v)
		slot[c] = uint8(b)
		m.counts[m.cols[c].off+b]++
	}
	b := Bin(m.cols[nf].edges, score)
	slot[nf] = uint8(b)
	m.counts[m.cols[nf].off+b]++
	m.next++
	if m.next == m.window {
		m.next = 0
	}
	m.mu.Unlock()
}

// Drift is a Monitor's PSI at one moment.
type Drift struct {
	// Events is how many events the window holds.
	Events int
	// Score is the PSI of the live score distribution against the holdout's.
	Score float64
	// Features is the PSI of each compared feature, in the order of
	// Monitor.Features.
	Features []float64
}

// Drift computes the PSI of the window against the baseline, per feature
// and for the score. It allocates; the Collector calls it at scrape time.
func (m *Monitor) Drift() Drift {
	actual := make([]float64, len(m.counts))
	m.mu.Lock()
	for i, c := range m.counts {
		actual[i] = float64(c)
	}
	d := Drift{Events: m.filled, Features: make([]float64, len(m.cols)-1)}
	m.mu.Unlock()
	for c, col := range m.cols {
		psi := PSI(col.expected, actual[col.off:col.off+len(col.expected)])
		if c == len(m.cols)-1 {
			d.Score = psi
		} else {
			d.Features[c] = psi
		}
	}
	return d
}
