// Package archive reads back the archive of scored transactions: the copy
// of each transaction event a worker with FRAUDSCORE_ARCHIVE=true stores in
// the ARCHIVE stream (ADR 0021), one per transaction id, decoded and
// validated, in stream order. Read selects all of them, those stored since a
// time, or the last N; FirstLabels reads the first label of each
// transaction from the LABELS stream, so a backtest
// (`fraudscore policy backtest -from-stream`) can join them.
//
// Both read with ordered consumers (ephemeral, no acknowledgements), so
// reading leaves no state on the server and needs only read permission on
// the streams. They stop at the last message stored when they started.
package archive
