package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/scoreclient"
)

const scoreSummary = `Score transactions synchronously: send each event to the fraud.score request-reply endpoint of
the running workers and print its verdict.

FILE (or - or nothing: standard input) holds one TransactionEvent v1 JSON document, or one event
per line (NDJSON: when the first non-blank line is a JSON value by itself, every non-blank line is
one event, read as it arrives). Events are sent as they are: the service validates them.
Each verdict is printed on standard output as one line of JSON, in input order. Each error reply
is printed on standard error as "line N: service error CODE: DESCRIPTION" (400 malformed or
invalid, 413 too large, 500 scoring failed, 503 draining or overloaded) and the other events are
still sent. Exit 1 when any event got an error reply, and at once on a connection error, a timeout
or no score service listening; exit 2 on a usage mistake.
The connection flags default to the worker's FRAUDSCORE_NATS_* variables.`

// scoreCommand runs `fraudscore score`.
func scoreCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCommand("score", "[FILE|-]", scoreSummary, 0, 1)
	conn := connectionFlags(c)
	stringFlag(c, "inbox-prefix", "NATS_INBOX_PREFIX", &conn.InboxPrefix, "inbox prefix for replies")
	stringFlag(c, "subject", "SCORE_SUBJECT", &conn.ScoreSubject, "request-reply subject of the score endpoint")
	timeout := c.flags.Duration("timeout", scoreclient.DefaultTimeout, "how long to wait for each reply")
	pos, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	problem := ""
	switch {
	case *timeout <= 0:
		problem = fmt.Sprintf("-timeout %s: want a positive duration", *timeout)
	case conn.ScoreSubject == "":
		problem = "-subject: want a subject"
	default:
		if err := conn.Validate(); err != nil {
			problem = err.Error()
		}
	}
	if problem != "" {
		fmt.Fprintf(stderr, "fraudscore score: %s\n\n", problem)
		c.usage(stderr)
		return 2
	}
	in := stdin
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "fraudscore score: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	res, err := runScore(ctx, conn, *timeout, in, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, scoreclient.ErrService) && res.Events == 1:
		// One event, one error reply: its line on stderr says it all.
	default:
		fmt.Fprintf(stderr, "fraudscore score: %v\n", err)
	}
	return 1
}

func runScore(ctx context.Context, conn *worker.Config, timeout time.Duration, in io.Reader, stdout, stderr io.Writer) (scoreclient.Result, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nc, err := worker.Connect(conn, "fraudscore-score", log, nil)
	if err != nil {
		return scoreclient.Result{}, err
	}
	defer nc.Close()
	cl := scoreclient.New(nc, scoreclient.Options{Subject: conn.ScoreSubject, Timeout: timeout})
	return cl.Send(ctx, in, stdout, stderr)
}
