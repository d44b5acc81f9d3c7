package scorer

import (
	"errors"
	"fmt"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// Reason modes (Options.Reasons, FRAUDSCORE_REASONS): which verdicts carry
// reason codes.
const (
	// ReasonsFlagged: review and decline verdicts.
	ReasonsFlagged = "flagged"
	// ReasonsAll: every verdict, approvals too.
	ReasonsAll = "all"
	// ReasonsOff: none; contributions are not computed.
	ReasonsOff = "off"
)

// ReasonModes lists the valid reason modes.
var ReasonModes = [...]string{ReasonsFlagged, ReasonsAll, ReasonsOff}

// ErrReasonsMode is returned (wrapped) for an unknown reason mode.
var ErrReasonsMode = errors.New("scorer: reasons must be flagged, all or off")

// ErrNoReasonTable says why a version gives no reason codes: it shipped
// without a reason table (modelstore.ReasonsFile).
var ErrNoReasonTable = errors.New("scorer: no reason table (" + modelstore.ReasonsFile + ")")

// reasons is what the reasons step needs of one served version: the code
// and name of each feature in the model's order, nil when the version gives
// none.
type reasons struct {
	codes, names []string
	// unavailable says why a version gives no reasons (no table, no
	// covers); nil when it does.
	unavailable error
}

// newReasons prepares the reasons step for l.
func newReasons(l *modelstore.Loaded) reasons {
	n := l.Extractor.Len()
	if !l.Model.HasCovers() {
		// Contributions says which tree lacks covers.
		return reasons{unavailable: l.Model.Contributions(make([]float64, n), make([]float64, n+1))}
	}
	if l.Reasons == nil {
		return reasons{unavailable: ErrNoReasonTable}
	}
	names := l.Extractor.Names()
	codes := make([]string, len(names))
	for i, n := range names {
		codes[i] = l.Reasons[n].Code // the store checked every feature has one
	}
	return reasons{codes: codes, names: names}
}

// wants reports whether a verdict with decision d carries reasons in mode.
func wants(mode string, d contracts.Decision) bool {
	switch mode {
	case ReasonsAll:
		return true
	case ReasonsFlagged:
		return d == contracts.DecisionReview || d == contracts.DecisionDecline
	}
	return false
}

// checkReasonsMode returns an error for an unknown mode ("" is off).
func checkReasonsMode(mode string) error {
	switch mode {
	case "", ReasonsFlagged, ReasonsAll, ReasonsOff:
		return nil
	}
	return fmt.Errorf("%w, not %q", ErrReasonsMode, mode)
}

// TopPositive writes into idx (reset first) the indices of the largest
// positive values of contrib, at most cap(idx) of them, largest first,
// ties broken by the lower index (the model's feature order). Zero,
// negative and NaN values are never chosen. It does not allocate.
func TopPositive(contrib []float64, idx []int) []int {
	idx = idx[:0]
	top := cap(idx)
	for i, c := range contrib {
		if !(c > 0) {
			continue
		}
		// Position of i: after every kept value >= c (earlier features win ties).
		pos := len(idx)
		for pos > 0 && contrib[idx[pos-1]] < c {
			pos--
		}
		if pos >= top {
			continue
		}
		if len(idx) < top {
			idx = idx[:len(idx)+1]
		}
		copy(idx[pos+1:], idx[pos:len(idx)-1])
		idx[pos] = i
	}
	return idx
}

// fillReasons sets vd's reasons and their detail from the row's
// contributions (contrib holds the features' then the bias, as
// model.Contributions writes them), using idx as the selection buffer.
func (r *reasons) fillReasons(vd *contracts.Verdict, row, contrib []float64, idx []int) {
	idx = TopPositive(contrib[:len(contrib)-1], idx)
	for _, i := range idx {
		vd.Reasons = append(vd.Reasons, r.codes[i])
		vd.ReasonDetails = append(vd.ReasonDetails, contracts.ReasonDetail{
			Code: r.codes[i], Feature: r.names[i], Value: row[i], Contribution: contrib[i]})
	}
}

// explain computes the contributions of row with m into contrib and fills
// vd's reasons. A failure leaves vd without reasons, never with made-up
// ones; it cannot happen for a model with covers and a row of its length.
func (r *reasons) explain(m *model.Model, vd *contracts.Verdict, row, contrib []float64, idx []int) {
	if m.Contributions(row, contrib) != nil {
		return
	}
	r.fillReasons(vd, row, contrib, idx)
}
