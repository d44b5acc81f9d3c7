package lifecycle

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// model is one served version with what scoring it needs.
type model struct {
	version string
	loaded  *modelstore.Loaded
	sc      *scorer.Scorer
	drift   scorer.RowObserver // nil without a window
	score   prometheus.Observer
	errs    prometheus.Counter
	// failed is set when the version's first failure beside the decider
	// was logged: later ones are only counted.
	failed atomic.Bool
}

// newModel builds the scorer, metric children and drift window of a
// loaded version.
func (l *Lifecycle) newModel(loaded *modelstore.Loaded) (*model, error) {
	sc, err := scorer.New(loaded, scorer.Options{Review: l.cfg.ReviewThreshold, Decline: l.cfg.DeclineThreshold, Now: l.opts.Now})
	if err != nil {
		return nil, err
	}
	m := &model{version: loaded.Version, loaded: loaded, sc: sc,
		score: l.m.score.WithLabelValues(loaded.Version), errs: l.m.errors.WithLabelValues(loaded.Version)}
	if l.opts.Drift != nil {
		obs, err := l.opts.Drift.Start(loaded)
		if err != nil {
			l.log.Warn("no drift window for this model version", "model_version", loaded.Version, "err", err)
		} else {
			m.drift = obs
		}
	}
	return m, nil
}
