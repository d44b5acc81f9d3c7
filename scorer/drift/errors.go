package drift

import "errors"

// ErrNoBaseline is returned (wrapped) by NewMonitor for a model version whose
// metadata holds no drift baseline (versions trained before baselines
// existed): the version serves as before, and exports no drift metrics.
var ErrNoBaseline = errors.New("drift: no baseline")

// ErrInvalidBaseline is returned (wrapped) by NewMonitor for a baseline that
// cannot be compared with (edges out of order, counts of the wrong length, a
// feature without a histogram): the version serves, without drift metrics.
var ErrInvalidBaseline = errors.New("drift: invalid baseline")
