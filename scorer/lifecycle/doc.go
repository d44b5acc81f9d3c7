// Package lifecycle serves fraudscore's models (ADR 0014): it owns the
// model store, loads the champion (models/latest) and an optional
// challenger (models/challenger) through the store's checks, reloads when
// either link moves (checked periodically) or on Reload (SIGHUP), reports
// readiness (the champion is loaded; the challenger never blocks it),
// exports the model metrics, and scores events as the worker's Scorer:
//
//   - shadow mode: the champion decides every transaction; the challenger
//     scores it too and its result goes into the verdict's Shadow;
//   - split mode: the challenger decides for the cards whose FNV-1a 64 hash
//     of card_token falls in its share (InChallengerShare), the champion
//     for the rest, and the model that did not decide is in Shadow.
//
// The model that does not decide is scored after the decider, inside a
// recover: its error or panic is counted and logged once per version, and
// the decider's verdict stands. The package knows nothing of NATS or HTTP.
package lifecycle
