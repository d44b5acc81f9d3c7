// Package drift watches the live distributions of a model's score and
// features against the baselines stored at training time, with the
// population stability index (PSI).
//
// A Monitor keeps, per served model version, a ring of the last N scored
// events' bin indexes (one per feature and one for the score) and the counts
// per bin, updated incrementally: Observe does a binary search per value and
// a few array increments, and allocates nothing. A Collector computes the
// PSI of every monitor at scrape time and exports it as
// fraudscore_score_psi{model_version} and
// fraudscore_feature_psi{model_version,feature}. The package knows nothing
// of NATS or HTTP; scorer/lifecycle creates the monitors and feeds them.
package drift
