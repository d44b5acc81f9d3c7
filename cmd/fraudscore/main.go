// Command fraudscore is the fraudscore worker and its model tool.
//
//	fraudscore [worker]      run a worker (configured by FRAUDSCORE_* variables)
//	fraudscore model ...     manage and test model versions
//	fraudscore --help        list every variable with its default
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"

	"github.com/fraudscore/fraudscore/worker"
)

// Stamped at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

const usageHead = `fraudscore: real-time fraud scoring of payment transactions on NATS JetStream.

Usage:
  fraudscore [worker]        run a scoring worker
  fraudscore model <cmd>     list | check | promote | rollback | predict | train (fraudscore model help)
  fraudscore version         print the version
  fraudscore --help          this text

The worker is configured by environment variables:

`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// After the first signal the default handling returns: a second Ctrl-C
	// or SIGTERM ends the process at once instead of waiting for the drain.
	go func() { <-ctx.Done(); stop() }()
	cmd := "worker"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "-h", "--help", "help":
		printUsage(stdout)
		return 0
	case "version", "--version":
		fmt.Fprintf(stdout, "fraudscore %s (%s)\n", version, commit)
		return 0
	case "model":
		return runModel(ctx, args, stdin, stdout, stderr)
	case "worker":
		var cfg worker.Config
		if err := envconfig.Process(worker.EnvPrefix, &cfg); err != nil {
			fmt.Fprintf(stderr, "fraudscore: invalid configuration: %v\n", err)
			return 2
		}
		if err := cfg.Validate(); err != nil {
			fmt.Fprintf(stderr, "fraudscore: %v\n", err)
			return 2
		}
		if err := runWorker(ctx, &cfg, stderr); err != nil {
			fmt.Fprintf(stderr, "fraudscore: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "fraudscore: unknown command %q (try --help)\n", cmd)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_ = envconfig.Usagef(worker.EnvPrefix, &worker.Config{}, tw,
		"{{range .}}  {{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}")
	_ = tw.Flush()
}
