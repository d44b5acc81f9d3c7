// Command fraudscore is the fraudscore worker and its model tool.
//
//	fraudscore [worker]      run a worker (configured by FRAUDSCORE_* variables)
//	fraudscore model ...     manage and test model versions
//	fraudscore score [FILE]  score events by request-reply and print the verdicts
//	fraudscore verdicts tail follow the verdict stream
//	fraudscore dlq ...       list, show and replay dead letters
//	fraudscore report        realised precision and recall from the labels
//	fraudscore help [cmd]    help on a command; every command also takes -h/--help
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Stamped at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

const usageHead = `fraudscore: real-time fraud scoring of payment transactions on NATS JetStream.

Usage:
  fraudscore [worker]        run a scoring worker
  fraudscore model <cmd>     list | check | promote | rollback | challenger | compare | predict | explain | train
  fraudscore policy <cmd>    list | check | promote | rollback | test | backtest analyst rule sets (docs/rules.md)
  fraudscore score [FILE|-]  score events (one, or one per line) by request-reply and print the verdicts
  fraudscore verdicts tail   follow the verdict stream (-decision decline, -since 10m, -last N, -json)
  fraudscore dlq <cmd>       list | show | replay dead letters (docs/reliability.md, dead-letter replay)
  fraudscore report          precision and recall per model version and rule from the labels (docs/labels.md)
  fraudscore version         print the version
  fraudscore help [cmd ...]  help on a command (fraudscore help model list); every command takes -h/--help
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
	case "-h", "-help", "--help", "help": // isHelp
		if len(args) > 0 && !isHelp(args[0]) { // help model list = model list --help
			return run(append(args, "--help"), stdin, stdout, stderr)
		}
		fmt.Fprintf(stdout, "%s\n", usageHead)
		printVariables(stdout)
		return 0
	case "version", "--version":
		c := newCommand("version", "", "Print the version and commit of this build.", 0, 0)
		if _, code, ok := c.parse(args, stdout, stderr); !ok {
			return code
		}
		fmt.Fprintf(stdout, "fraudscore %s (%s)\n", version, commit)
		return 0
	case "model":
		return runModel(ctx, args, stdin, stdout, stderr)
	case "policy":
		return runPolicy(ctx, args, stdin, stdout, stderr)
	case "worker":
		return workerCommand(ctx, args, stdout, stderr)
	case "score":
		return scoreCommand(ctx, args, stdin, stdout, stderr)
	case "verdicts":
		return runVerdicts(ctx, args, stdout, stderr)
	case "dlq":
		return runDLQ(ctx, args, stdin, stdout, stderr)
	case "report":
		return reportCommand(ctx, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "fraudscore: unknown command %q\n\n%s", cmd, usageHead)
	return 2
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}
