// Package labels holds what fraudscore knows about labels once they meet
// their verdicts (ADR 0020, docs/labels.md): the compact record of a
// verdict kept in the VERDICT_INDEX bucket for the label horizon (Entry),
// the KV key of a transaction id (Key), the realised confusion counts per
// model version and per rule (Table, with precision and recall), and Read,
// which rebuilds that table from the LABELS stream and the index for
// `fraudscore report`.
//
// The worker package runs the live join (a durable consumer on LABELS and
// one that indexes VERDICTS) and exports the same counts as
// fraudscore_labelled_decisions_total; this package knows nothing of the
// worker and the scoring side knows nothing of it.
package labels
