package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/verdictstream"
)

const verdictsUsage = `usage: fraudscore verdicts <command>

Commands:
  tail    follow the verdict stream, one line per verdict

Run fraudscore verdicts <command> --help for a command's flags.
`

// runVerdicts dispatches `fraudscore verdicts ...`.
func runVerdicts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, verdictsUsage)
		return 2
	}
	switch args[0] {
	case "tail":
		return verdictsTailCommand(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, verdictsUsage)
		return 0
	}
	fmt.Fprintf(stderr, "fraudscore verdicts: unknown command %q\n\n%s", args[0], verdictsUsage)
	return 2
}

const verdictsTailSummary = `Follow the verdict stream: print each verdict as it is stored, until interrupted (Ctrl-C ends it, exit 0).

By default only verdicts stored from now on; -since starts that long ago (10m) or at an RFC 3339
time, -last at the last N verdicts of the selection, and both then keep following. -decision keeps
only some decisions (repeatable or a comma list: -decision decline,review), filtered by the server
on the subjects <prefix><decision>. Each verdict is one line: scored at (UTC), transaction id,
decision, score, model version and the reason codes when there are any; with -json the verdict
document (contract verdict.v1) on one line. The stream is read with an ordered consumer: no state is
left on the server and read permission on the stream is enough.
The connection flags default to the worker's FRAUDSCORE_NATS_* variables.`

// verdictsTailCommand runs `fraudscore verdicts tail`.
func verdictsTailCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("verdicts tail", "", verdictsTailSummary, 0, 0)
	conn := connectionFlags(c)
	stringFlag(c, "stream", "VERDICT_STREAM", &conn.VerdictStream, "verdict stream")
	stringFlag(c, "prefix", "VERDICT_PREFIX", &conn.VerdictPrefix, "verdict subject prefix")
	var decisions listFlag
	var since string
	var last int
	var asJSON bool
	c.flags.Var(&decisions, "decision", "only these decisions: approve, review, decline (repeatable, or a comma list)")
	c.flags.StringVar(&since, "since", "", "start at the verdicts stored since this long ago (10m, 1h) or this RFC 3339 time")
	c.flags.IntVar(&last, "last", 0, "start at the last N verdicts")
	c.flags.BoolVar(&asJSON, "json", false, "print each verdict as its JSON document on one line")
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	o := verdictstream.Options{Stream: conn.VerdictStream, Prefix: conn.VerdictPrefix, Last: last, Follow: true}
	var problem string
	for _, d := range decisions {
		if !contracts.Decision(d).Valid() {
			problem = fmt.Sprintf("-decision %q: want approve, review or decline", d)
			break
		}
		o.Decisions = append(o.Decisions, contracts.Decision(d))
	}
	switch {
	case problem != "":
	case since != "" && last != 0:
		problem = "-since and -last exclude each other"
	case last < 0:
		problem = fmt.Sprintf("-last %d: want a positive count", last)
	case since != "":
		var err error
		if o.Since, err = parseSince(since, time.Now()); err != nil {
			problem = err.Error()
		}
	default:
		o.New = last == 0
	}
	if problem = connProblem(problem, conn); problem != "" {
		return c.usageError(stderr, problem)
	}
	return c.exit(stderr, runTail(ctx, conn, o, asJSON, stdout, stderr))
}

// runTail follows the stream until ctx ends (nil: an interrupt is the
// normal end) or an error.
func runTail(ctx context.Context, conn *worker.Config, o verdictstream.Options, asJSON bool, stdout, stderr io.Writer) error {
	nc, err := worker.Connect(conn, "fraudscore-verdicts-tail", toolLogger(stderr), nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	o.OnUndecodable = func(m verdictstream.Meta, err error) {
		fmt.Fprintf(stderr, "fraudscore verdicts tail: sequence %d on %s is not a valid verdict; skipped: %v\n", m.Sequence, m.Subject, err)
	}
	var line []byte
	_, err = verdictstream.Read(ctx, js, o, func(_ verdictstream.Meta, vd *contracts.Verdict) error {
		if asJSON {
			line = vd.AppendJSON(line[:0])
		} else {
			line = verdictstream.AppendLine(line[:0], vd)
		}
		line = append(line, '\n')
		_, err := stdout.Write(line)
		return err
	})
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return connError(nc, err)
}
