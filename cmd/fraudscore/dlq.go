package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/deadletters"
)

const dlqUsage = `usage: fraudscore dlq <command>

Commands:
  list     count the dead letters by reason and age
  show     print one dead letter, card numbers masked
  replay   publish dead letters again to their input subjects (dry run, confirmation, summary)

Run fraudscore dlq <command> --help for a command's flags. The runbook is in docs/reliability.md.
`

// runDLQ dispatches `fraudscore dlq ...`.
func runDLQ(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, dlqUsage)
		return 2
	}
	switch args[0] {
	case "list":
		return dlqListCommand(ctx, args[1:], stdout, stderr)
	case "show":
		return dlqShowCommand(ctx, args[1:], stdout, stderr)
	case "replay":
		return dlqReplayCommand(ctx, args[1:], stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, dlqUsage)
		return 0
	}
	fmt.Fprintf(stderr, "fraudscore dlq: unknown command %q\n\n%s", args[0], dlqUsage)
	return 2
}

// dlqFlags are the flags every dlq command takes: the connection, the
// dead-letter stream and its subject prefix.
func dlqFlags(c *command) *worker.Config {
	conn := connectionFlags(c)
	stringFlag(c, "stream", "DLQ_STREAM", &conn.DLQStream, "dead-letter stream")
	stringFlag(c, "prefix", "DLQ_PREFIX", &conn.DLQPrefix, "dead-letter subject prefix")
	return conn
}

// selectionFlags registers the flags that select dead letters.
type selectionFlags struct {
	reasons, ids, seqs listFlag
	since              string
}

func (f *selectionFlags) register(c *command, withIDs bool) {
	c.flags.Var(&f.reasons, "reason", "only these reasons: "+strings.Join(contracts.DeadLetterReasons[:], ", ")+" (repeatable, or a comma list)")
	c.flags.StringVar(&f.since, "since", "", "only dead letters stored since this long ago (2h) or this RFC 3339 time")
	if withIDs {
		c.flags.Var(&f.ids, "id", "only the dead letters of these transaction ids (repeatable, or a comma list)")
		c.flags.Var(&f.seqs, "seq", "only the dead letters at these dead-letter stream sequences (repeatable, or a comma list)")
	}
}

// selection checks the flags and returns the selection, or a usage problem.
func (f *selectionFlags) selection(conn *worker.Config) (deadletters.Selection, string) {
	s := deadletters.Selection{Stream: conn.DLQStream, Prefix: conn.DLQPrefix, Reasons: f.reasons, IDs: f.ids}
	for _, r := range f.reasons {
		if !slices.Contains(contracts.DeadLetterReasons[:], r) {
			return s, fmt.Sprintf("-reason %q: want one of %s", r, strings.Join(contracts.DeadLetterReasons[:], ", "))
		}
	}
	for _, q := range f.seqs {
		n, err := strconv.ParseUint(q, 10, 64)
		if err != nil || n == 0 {
			return s, fmt.Sprintf("-seq %q: want a stream sequence (1 or more)", q)
		}
		s.Seqs = append(s.Seqs, n)
	}
	if f.since != "" {
		var err error
		if s.Since, err = parseSince(f.since, time.Now()); err != nil {
			return s, err.Error()
		}
	}
	return s, ""
}

// dlqConnect connects as the named client and returns the connection and
// a JetStream context on it.
func dlqConnect(conn *worker.Config, name string, stderr io.Writer) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := worker.Connect(conn, name, toolLogger(stderr), nil)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

const dlqListSummary = `Count the dead letters by reason and age.

One row per reason: how many, how many are younger than 1h, between 1h and 24h and older, and the
store times of the oldest and newest (UTC). -reason and -since narrow what is counted; -json prints
the document of Go type deadletters.Summary (package worker/deadletters).
The connection flags default to the worker's FRAUDSCORE_NATS_* variables.`

// dlqListCommand runs `fraudscore dlq list`.
func dlqListCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("dlq list", "", dlqListSummary, 0, 0)
	conn := dlqFlags(c)
	var sel selectionFlags
	sel.register(c, false)
	var asJSON bool
	c.flags.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	s, problem := sel.selection(conn)
	if problem = connProblem(problem, conn); problem != "" {
		return c.usageError(stderr, problem)
	}
	err := func() error {
		nc, js, err := dlqConnect(conn, "fraudscore-dlq-list", stderr)
		if err != nil {
			return err
		}
		defer nc.Close()
		sum, err := deadletters.Summarise(ctx, js, s, time.Now())
		if err != nil {
			return connError(nc, err)
		}
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(sum)
		}
		return sum.WriteText(stdout)
	}()
	return c.exit(stderr, err)
}

const dlqShowSummary = `Print dead letters: where and when each was stored, its headers and its payload.

Give -seq (a dead-letter stream sequence, as dlq replay prints it) or -id (a transaction id: every
dead letter of that transaction). Anything that looks like a card number, in headers or payload,
is masked to its first six and last four digits; a payload that is not text is printed Go-quoted.
Exit 1 when nothing matches.
The connection flags default to the worker's FRAUDSCORE_NATS_* variables.`

// dlqShowCommand runs `fraudscore dlq show`.
func dlqShowCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("dlq show", "(-seq N | -id TRANSACTION_ID)", dlqShowSummary, 0, 0)
	conn := dlqFlags(c)
	var seq uint64
	var id string
	c.flags.Uint64Var(&seq, "seq", 0, "the dead letter at this dead-letter stream sequence")
	c.flags.StringVar(&id, "id", "", "the dead letters of this transaction id")
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	s := deadletters.Selection{Stream: conn.DLQStream, Prefix: conn.DLQPrefix}
	var problem string
	switch {
	case (seq == 0) == (id == ""):
		problem = "give one of -seq and -id"
	case seq != 0:
		s.Seqs = []uint64{seq}
	default:
		s.IDs = []string{id}
	}
	if problem = connProblem(problem, conn); problem != "" {
		return c.usageError(stderr, problem)
	}
	err := func() error {
		nc, js, err := dlqConnect(conn, "fraudscore-dlq-show", stderr)
		if err != nil {
			return err
		}
		defer nc.Close()
		ls, err := deadletters.Get(ctx, js, s)
		if err != nil {
			return connError(nc, err)
		}
		for i, l := range ls {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			if err := deadletters.Show(stdout, l); err != nil {
				return err
			}
		}
		return nil
	}()
	return c.exit(stderr, err)
}

const dlqReplaySummary = `Publish selected dead letters again to their original input subjects, to be scored.

Select with -reason, -since, -id and -seq (at least one; they combine). Each selected letter is
checked first, and only those that pass are published: skipped when the verdict stream already
holds a verdict for its transaction id, when the worker redacted its payload (the card number is
gone), when its payload looks like it contains a card number, or when it repeats the transaction
of an earlier selected letter; still invalid when contracts refuses it (it would only be
dead-lettered again). A letter is published to the subject in its Fraudscore-Dlq-Original-Subject
header with its transaction id as Nats-Msg-Id, and must be stored in the input stream (-input-stream).
The plan is printed first; with -dry-run nothing more happens, otherwise the command asks for
confirmation on stdin unless -yes. Then one line per letter says what happened (replayed, duplicate:
the input stream already held that id within its duplicate window, skipped ..., still invalid,
failed) with totals. -delete removes from the dead-letter stream the letters replayed or with an
existing verdict (and repeats of those), never a duplicate; without it nothing is deleted.
Exit 0 when every selected letter was replayed, a duplicate or needed no replay, 1 otherwise (a
letter skipped for redaction, a card number, still invalid or failed; not confirmed; an error),
2 on a usage error.
Existing verdicts are looked for from -lookback before the oldest selected letter.
The runbook is in docs/reliability.md. The connection flags default to the worker's
FRAUDSCORE_NATS_* variables.`

// dlqReplayCommand runs `fraudscore dlq replay`.
func dlqReplayCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCommand("dlq replay", "", dlqReplaySummary, 0, 0)
	conn := dlqFlags(c)
	stringFlag(c, "input-stream", "STREAM", &conn.Stream, "input stream every replayed letter must be stored in")
	stringFlag(c, "verdict-stream", "VERDICT_STREAM", &conn.VerdictStream, "verdict stream searched for existing verdicts")
	stringFlag(c, "verdict-prefix", "VERDICT_PREFIX", &conn.VerdictPrefix, "verdict subject prefix")
	var sel selectionFlags
	sel.register(c, true)
	var dryRun, yes, del bool
	lookback := conn.StreamMaxAge
	maxPayload := conn.MaxPayload
	c.flags.BoolVar(&dryRun, "dry-run", false, "print the plan and publish nothing")
	c.flags.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	c.flags.BoolVar(&del, "delete", false, "delete the dead letters that were replayed or need no replay")
	c.flags.DurationVar(&lookback, "lookback", lookback, "look for existing verdicts from this long before the oldest selected letter (0: the whole verdict stream; default the worker's FRAUDSCORE_STREAM_MAX_AGE default)")
	c.flags.IntVar(&maxPayload, "max-payload", maxPayload, "largest valid payload in bytes (the worker's FRAUDSCORE_MAX_PAYLOAD)")
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	s, problem := sel.selection(conn)
	switch {
	case problem != "":
	case len(sel.reasons) == 0 && sel.since == "" && len(sel.ids) == 0 && len(sel.seqs) == 0:
		problem = "select dead letters with at least one of -reason, -since, -id and -seq"
	case dryRun && del:
		problem = "-dry-run and -delete exclude each other"
	case lookback < 0:
		problem = fmt.Sprintf("-lookback %s: want 0 or more", lookback)
	case maxPayload <= 0:
		problem = fmt.Sprintf("-max-payload %d: want a positive size", maxPayload)
	}
	if problem = connProblem(problem, conn); problem != "" {
		return c.usageError(stderr, problem)
	}
	o := deadletters.ReplayOptions{
		Selection: s, VerdictStream: conn.VerdictStream, VerdictPrefix: conn.VerdictPrefix, VerdictLookback: lookback,
		InputStream: conn.Stream, Validator: &contracts.Validator{MaxBytes: maxPayload}, Delete: del,
	}
	code, err := runReplay(ctx, conn, o, dryRun, yes, stdin, stdout, stderr)
	if err != nil {
		return c.exit(stderr, err)
	}
	return code
}

func runReplay(ctx context.Context, conn *worker.Config, o deadletters.ReplayOptions, dryRun, yes bool, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	nc, js, err := dlqConnect(conn, "fraudscore-dlq-replay", stderr)
	if err != nil {
		return 1, err
	}
	defer nc.Close()
	r, err := deadletters.Plan(ctx, js, o)
	if err != nil {
		return 1, connError(nc, err)
	}
	ready, deletes := r.Count(deadletters.Ready), 0
	if o.Delete {
		deletes = r.Deletable()
	}
	if dryRun || ready+deletes == 0 {
		if dryRun {
			fmt.Fprint(stdout, "dry run, nothing published:\n")
		}
		if err := r.WriteText(stdout); err != nil {
			return 1, err
		}
		return unresolved(r, stderr), nil
	}
	if !yes {
		if err := r.WriteText(stdout); err != nil {
			return 1, err
		}
		question := fmt.Sprintf("Publish %d dead letters to their input subjects", ready)
		if o.Delete {
			question += fmt.Sprintf(" and delete up to %d from %s", deletes, cmp.Or(o.Selection.Stream, deadletters.DefaultStream))
		}
		fmt.Fprintf(stderr, "%s? [y/N] ", question)
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return 1, fmt.Errorf("not confirmed; nothing published or deleted")
		}
	}
	execErr := r.Execute(ctx, js)
	fmt.Fprintln(stdout, "replay:")
	if err := r.WriteText(stdout); err != nil {
		return 1, err
	}
	if execErr != nil {
		return 1, connError(nc, execErr)
	}
	return unresolved(r, stderr), nil
}

// unresolved returns 1 after saying how many letters were not replayed for
// a reason that needs a person, 0 when there is none.
func unresolved(r *deadletters.Replay, stderr io.Writer) int {
	n := r.Unresolved()
	if n == 0 {
		return 0
	}
	fmt.Fprintf(stderr, "fraudscore dlq replay: %d of %d selected dead letters cannot be replayed (see the lines above)\n", n, len(r.Items))
	return 1
}
