// Package verdictstream reads stored verdicts back from the VERDICTS stream:
// the verdicts of a time range or the last N, optionally only some
// decisions, in stream order, each decoded and validated by
// contracts.DecodeVerdict and handed to a func with its stream metadata.
// It serves `fraudscore model compare` (replay a champion/challenger trial)
// and `fraudscore verdicts tail` (Options.Follow, Options.New, and
// AppendLine for a readable line per verdict), and anything else that looks
// back at what fraudscore decided.
//
// Read uses an ordered consumer (ephemeral, no acknowledgements, recreated
// by the client after a reconnect), so reading leaves no state on the
// server and needs only read permission on the stream. Only the verdict
// subjects <prefix>approve, <prefix>review and <prefix>decline are read;
// anything else the stream holds is never delivered.
package verdictstream
