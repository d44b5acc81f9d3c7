// Command loadtest drives a running fraudscore deployment with synthetic
// transactions and reports throughput, end-to-end latency (from a probe on
// the verdict subjects), the decision mix against ground truth and, in
// stream mode, what the VERDICTS and FRAUD_DLQ streams stored, checked by
// transaction id: exactly one verdict per transaction, exactly one dead
// letter per poison message (-poison-every).
//
//	loadtest -rate 5000 -duration 30s                # open loop, JetStream in, verdicts out
//	loadtest -count 200000                            # as fast as the publish window allows
//	loadtest -mode request -rate 1000 -duration 20s  # request-reply, open loop
//	loadtest -mode request -concurrency 32 -count 50000
//
// It connects as the worker does, with the same settings and credentials
// files (-creds, -nkey, -user and -password-file, -token-file, -ca, -cert,
// -key; each defaulting to the worker's FRAUDSCORE_NATS_* variable).
// It talks only to loopback servers unless -allow-remote is given, stops by
// itself (count, duration, and the -max-duration hard cap), and exits 2 when
// a stored verdict or dead letter is missing, doubled or unexpected.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fraudscore/fraudscore/loadtest"
	"github.com/fraudscore/fraudscore/worker"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var cfg loadtest.Config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.URL = worker.DefaultConfig().NATSURL
	if v := os.Getenv(worker.EnvPrefix + "_NATS_URL"); v != "" {
		cfg.URL = v
	}
	fs.StringVar(&cfg.URL, "url", cfg.URL, "NATS server URLs, comma-separated (loopback only unless -allow-remote) ($"+worker.EnvPrefix+"_NATS_URL)")
	conn := connectionFlags(fs)
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a server that is not on this machine")
	fs.StringVar(&cfg.Mode, "mode", loadtest.ModeStream, "stream (JetStream in, verdicts out) or request (request-reply)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open-loop rate per second; 0 = as fast as possible")
	fs.IntVar(&cfg.Count, "count", 0, "transactions to send (0: rate x duration)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "length of the sending phase")
	fs.DurationVar(&cfg.MaxDuration, "max-duration", loadtest.DefaultMaxDuration, "hard cap on the whole run")
	fs.DurationVar(&cfg.Drain, "drain", 0, "give up on missing verdicts after this long without progress (default 10s)")
	fs.IntVar(&cfg.Window, "window", 0, "async publishes awaiting PubAck (default 1024)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "requests in flight in request mode (default 16)")
	fs.DurationVar(&cfg.RequestTimeout, "timeout", 0, "timeout of one request (default 5s)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the synthetic generator")
	fs.Float64Var(&cfg.FraudRate, "fraud-rate", 0, "fraud rate of the generator (default: its own, 1.2%)")
	fs.IntVar(&cfg.PopulationCards, "population", 0, "generate raw events of this many cards and their devices, paying again and again (synthetic population mode, no upstream aggregates); 0: a random card per event")
	fs.StringVar(&cfg.RunID, "run-id", "", "run id in transaction ids lt-<id>-<n> (default: clock in base 36)")
	fs.StringVar(&cfg.Subject, "subject", "", "input subject (default payments.transactions.loadtest)")
	fs.StringVar(&cfg.ScoreSubject, "score-subject", "", "request-reply subject (default fraud.score)")
	fs.StringVar(&cfg.Verdicts, "verdicts", loadtest.VerdictsCore, "latency probe: core (subscription) or stream (ordered consumer on VERDICTS); integrity is always checked from the streams")
	fs.IntVar(&cfg.PoisonEvery, "poison-every", 0, "send every n-th transaction invalid; each must get exactly one dead letter (0: none)")
	fs.BoolVar(&cfg.PassThrough, "pass-through", false, "the worker runs with FRAUDSCORE_PASS_THROUGH=true (verdict ids are seq-<n>)")
	fs.BoolVar(&cfg.NoMsgID, "no-msg-id", false, "publish transactions without Nats-Msg-Id")
	jsonOut := fs.String("json", "", "write the JSON report to this file (- for stdout)")
	progress := fs.String("progress", "auto", "progress line every second on stderr: auto (on a terminal), on, off")
	quiet := fs.Bool("q", false, "no summary on stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has printed the error and the usage
	}
	switch *progress {
	case "on":
		cfg.Progress = stderr
	case "auto":
		if f, ok := stderr.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				cfg.Progress = stderr
			}
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conn.NATSURL = cfg.URL
	if err := conn.Validate(); err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 1
	}
	cfg.Connect = connector(conn, cfg.URL, cfg.Logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 1
	}
	if !*quiet {
		rep.WriteSummary(stdout)
	}
	if *jsonOut != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1
		}
		data = append(data, '\n')
		if *jsonOut == "-" {
			_, err = stdout.Write(data)
		} else {
			err = os.WriteFile(*jsonOut, data, 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1
		}
	}
	if !rep.OK() {
		return 2
	}
	return 0
}
