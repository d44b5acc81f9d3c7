package scorer

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/fraudscore/fraudscore/contracts"
)

// ErrPolicy is returned (wrapped) for invalid thresholds.
var ErrPolicy = errors.New("invalid decision policy")

// Policy maps a fraud probability to a decision.
type Policy struct {
	// Version names the policy in verdicts, e.g. "v20261127_134501/model"
	// when the model's own thresholds are used, or "override/r0.5-d0.9".
	Version string
	// Review and Decline are the thresholds: score >= Decline declines,
	// score >= Review reviews, anything lower approves.
	Review, Decline float64
}

// NewPolicy returns a checked policy.
func NewPolicy(version string, review, decline float64) (Policy, error) {
	if !(0 < review && review <= decline && decline <= 1) {
		return Policy{}, fmt.Errorf("scorer: thresholds review=%g decline=%g must satisfy 0 < review <= decline <= 1: %w", review, decline, ErrPolicy)
	}
	return Policy{Version: version, Review: review, Decline: decline}, nil
}

// OverrideVersion is the policy version of thresholds set by configuration.
func OverrideVersion(review, decline float64) string {
	return "override/r" + strconv.FormatFloat(review, 'g', -1, 64) + "-d" + strconv.FormatFloat(decline, 'g', -1, 64)
}

// Decide returns the decision for a score. NaN scores review (fail safe).
func (p Policy) Decide(score float64) contracts.Decision {
	switch {
	case score >= p.Decline:
		return contracts.DecisionDecline
	case score >= p.Review:
		return contracts.DecisionReview
	case score < p.Review:
		return contracts.DecisionApprove
	}
	return contracts.DecisionReview
}
