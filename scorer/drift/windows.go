package drift

import (
	"sync"

	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// Windows keeps one Monitor per served model version and exports it through
// a Collector; it is what scorer/lifecycle calls its Drift. A version
// loaded again while it serves (a reload, or a challenger promoted to
// champion) keeps its Monitor and window: Start and Stop are counted per
// version, and the Monitor leaves the Collector when the last Stop comes.
// It is safe for concurrent use.
type Windows struct {
	collector *Collector
	window    int

	mu     sync.Mutex
	served map[string]*served
}

type served struct {
	m    *Monitor
	refs int
}

// NewWindows returns Windows that export to c, with window events per
// version (DefaultWindow when window <= 0).
func NewWindows(c *Collector, window int) *Windows {
	return &Windows{collector: c, window: window, served: map[string]*served{}}
}

// Start returns the Monitor of a version that starts serving: the one it
// already has, or a new one built from the version's metadata and added to
// the Collector. A version without a usable baseline gets an error wrapping
// ErrNoBaseline or ErrInvalidBaseline and no Monitor (the caller logs it).
func (w *Windows) Start(l *modelstore.Loaded) (scorer.RowObserver, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.served[l.Version]; s != nil {
		s.refs++
		return s.m, nil
	}
	m, err := NewMonitor(l.Version, l.Meta.Features, BaselineFrom(l.Meta), w.window)
	if err != nil {
		return nil, err
	}
	w.served[l.Version] = &served{m: m, refs: 1}
	w.collector.Add(m)
	return m, nil
}

// Stop is called when a version stops serving; after as many Stops as
// Starts its Monitor leaves the Collector. An unknown version is ignored.
func (w *Windows) Stop(version string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.served[version]
	if s == nil {
		return
	}
	if s.refs--; s.refs == 0 {
		delete(w.served, version)
		w.collector.Remove(version)
	}
}
