package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/compare"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/verdictstream"
)

const compareSummary = `Compare model versions from the stored verdicts: decisions, quantiles, agreement, PSI.

Read the verdicts stored in the verdict stream, of a time range (-since) or the last N (-last),
and compare the model versions that scored them: per version the transactions scored (deciding or
in shadow), decision rates and score quantiles (p50, p90, p99, p99.9, nearest rank); per
champion/challenger pair (the deciding model and each shadow entry; the champion is the one that
decided more of the pair's transactions) the 3x3 decision agreement matrix and the PSI of the
challenger's scores against the champion's over deciles of the champion's scores.
Plain-text tables, or with -json the document of Go type compare.Report (package scorer/compare).
Exit 1 when the range holds no verdict: there is nothing to compare.
The connection flags default to the worker's FRAUDSCORE_NATS_* variables.`

// compareCommand runs `fraudscore model compare`.
func compareCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("model compare", "(-since D | -last N)", compareSummary, 0, 0)
	conn := connectionFlags(c)
	stringFlag(c, "stream", "VERDICT_STREAM", &conn.VerdictStream, "verdict stream")
	stringFlag(c, "prefix", "VERDICT_PREFIX", &conn.VerdictPrefix, "verdict subject prefix")
	var since string
	var last int
	var asJSON bool
	c.flags.StringVar(&since, "since", "", "read the verdicts stored since this long ago (1h, 30m) or this RFC 3339 time")
	c.flags.IntVar(&last, "last", 0, "read the last N verdicts")
	c.flags.BoolVar(&asJSON, "json", false, "print the comparison as JSON")
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	o := verdictstream.Options{Stream: conn.VerdictStream, Prefix: conn.VerdictPrefix, Last: last}
	var problem string
	switch {
	case (since == "") == (last == 0):
		problem = "give one of -since and -last"
	case last < 0:
		problem = fmt.Sprintf("-last %d: want a positive count", last)
	case since != "":
		var err error
		if o.Since, err = parseSince(since, time.Now()); err != nil {
			problem = err.Error()
		}
	}
	if problem = connProblem(problem, conn); problem != "" {
		return c.usageError(stderr, problem)
	}
	return c.exit(stderr, runCompare(ctx, conn, o, asJSON, stdout, stderr))
}

// parseSince reads -since: a positive duration before now, or an RFC 3339
// time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("-since %s: want a positive duration", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("-since %q: want a duration (1h) or an RFC 3339 time (2026-12-02T10:00:00Z)", s)
	}
	return t, nil
}

// errNoVerdicts is runCompare's error when the range holds no verdict.
var errNoVerdicts = errors.New("no verdicts")

func runCompare(ctx context.Context, conn *worker.Config, o verdictstream.Options, asJSON bool, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nc, err := worker.Connect(conn, "fraudscore-model-compare", log, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	var agg compare.Aggregator
	st, err := verdictstream.Read(ctx, js, o, func(_ verdictstream.Meta, vd *contracts.Verdict) error {
		agg.Add(vd)
		return nil
	})
	if err != nil {
		return err
	}
	src := compare.Source{Stream: o.Stream, Last: o.Last, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, Undecodable: st.Undecodable}
	what := fmt.Sprintf("last %d", o.Last)
	if !o.Since.IsZero() {
		src.Since = &o.Since
		what = "since " + o.Since.UTC().Format(time.RFC3339)
	}
	if st.Verdicts == 0 {
		return fmt.Errorf("%w in stream %s, %s (%d undecodable messages)", errNoVerdicts, o.Stream, what, st.Undecodable)
	}
	r := agg.Report()
	r.Source = src
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(&r)
	}
	fmt.Fprintf(stdout, "stream %s, %s: sequences %d..%d", o.Stream, what, st.FirstSeq, st.LastSeq)
	if st.Undecodable > 0 {
		fmt.Fprintf(stdout, ", %d undecodable messages skipped", st.Undecodable)
	}
	fmt.Fprintln(stdout)
	return compare.WriteText(stdout, &r)
}
