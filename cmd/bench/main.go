// Command bench runs fraudscore's end-to-end benchmark (see loadtest/bench):
// a standalone NATS server and worker processes on this machine, the
// transport and request-reply baselines from natscli, and the worker's
// pass-through mode, and writes docs/bench/latest.json (results, commit,
// machine, load averages, ratios to the baselines) and latest.md, rendered
// from that JSON (-render re-renders a committed JSON without running).
// `make bench` and `make bench-quick` build the binaries and call it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fraudscore/fraudscore/loadtest/bench"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o bench.Options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.FraudscoreBin, "fraudscore", "bin/fraudscore", "worker binary")
	fs.StringVar(&o.ServerBin, "natsserver", "bin/natsserver", "cmd/natsserver binary")
	fs.StringVar(&o.NatsCLI, "nats", "", "natscli binary for the transport baseline (empty: skip)")
	fs.StringVar(&o.ModelDir, "models", "models", "model store")
	fs.BoolVar(&o.Quick, "quick", false, "the short plan (under two minutes)")
	fs.StringVar(&o.Only, "only", "", "run only scenarios whose name contains this (or one of its |-separated parts; =NAME: exactly NAME)")
	fs.IntVar(&o.Rounds, "rounds", 1, "run the scenarios this many times, interleaved; ratios are the medians of the rounds'")
	out := fs.String("out", "docs/bench/latest", "write <out>.json and <out>.md")
	procLog := fs.String("proc-log", "", "file for the servers' and workers' output (default: discarded)")
	fs.IntVar(&o.ServerProfPort, "server-prof", 0, "serve each scenario's NATS server profiles on this loopback port (go tool pprof http://127.0.0.1:PORT/debug/pprof/profile); 0: none")
	timeout := fs.Duration("timeout", 15*time.Minute, "hard cap on the whole run")
	render := fs.String("render", "", "run nothing: write the markdown of this results JSON to stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has printed the error and the usage
	}
	if o.Rounds < 1 {
		fmt.Fprintf(stderr, "bench: -rounds %d: want at least 1\n", o.Rounds)
		fs.Usage()
		return 2
	}
	if *render != "" {
		return renderMarkdown(*render, "", stdout, stderr)
	}
	for _, p := range []*string{&o.FraudscoreBin, &o.ServerBin, &o.ModelDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		*p = abs
	}
	o.Log = stderr
	if *procLog != "" {
		f, err := os.Create(*procLog)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		o.ProcLog = f
	}
	tmp, err := os.MkdirTemp("", "fraudscore-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	o.TmpDir = tmp

	o.SourceDir = "."
	o.Command = "make bench"
	if o.Quick {
		o.Command = "make bench-quick"
	}
	if o.Only != "" || *out != "docs/bench/latest" && *out != "docs/bench/quick" {
		o.Command = "cmd/bench " + strings.Join(args, " ")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if err := res.WriteJSON(*out + ".json"); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return renderMarkdown(*out+".json", *out+".md", stdout, stderr)
}

// renderMarkdown renders the markdown of a results JSON from the file
// itself, so the markdown holds only what the JSON holds; it writes it to
// mdPath (if set) and stdout.
func renderMarkdown(jsonPath, mdPath string, stdout, stderr io.Writer) int {
	res, err := bench.ReadJSON(jsonPath)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	var md bytes.Buffer
	res.WriteMarkdown(&md)
	if mdPath != "" {
		if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	_, _ = stdout.Write(md.Bytes())
	return 0
}
