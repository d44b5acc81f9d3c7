// Command backlog makes and measures a JetStream backlog for `make k8s-e2e`
// (package backlog): each subcommand connects, does one thing and prints
// one JSON object.
//
//	backlog topology -url nats://127.0.0.1:4222 -user u -password-file f
//	backlog publish -n 398000 ...
//	backlog lag ...
//	backlog purge ...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/tools/k8s/backlog"
)

const usage = `usage: backlog <topology|publish|lag|purge> [flags]

topology  create the worker's streams and consumers (worker.EnsureTopology)
publish   publish -n synthetic transactions to the input stream
lag       print the consumer's num_pending, num_ack_pending and their sum
purge     remove every message of the input stream

FRAUDSCORE_* variables in the environment change the worker configuration
(FRAUDSCORE_STREAM_REPLICAS=1 on a single server).
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd := args[0]
	fs := flag.NewFlagSet("backlog "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", nats.DefaultURL, "NATS server URL")
	user := fs.String("user", "", "user name")
	passwordFile := fs.String("password-file", "", "file holding the user's password")
	n := fs.Int("n", 0, "publish: transactions to publish")
	seed := fs.Uint64("seed", 1, "publish: seed of the synthetic generator")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	switch cmd {
	case "topology", "publish", "lag", "purge":
	default:
		fmt.Fprintf(stderr, "backlog: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || (cmd == "publish" && *n <= 0) {
		fmt.Fprintln(stderr, "backlog: publish needs -n > 0 and no command takes arguments")
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	out, err := do(ctx, cmd, *url, *user, *passwordFile, *n, *seed)
	if err != nil {
		fmt.Fprintln(stderr, "backlog:", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		fmt.Fprintln(stderr, "backlog:", err)
		return 1
	}
	return 0
}

func do(ctx context.Context, cmd, url, user, passwordFile string, n int, seed uint64) (any, error) {
	cfg, err := backlog.Config(os.Environ())
	if err != nil {
		return nil, err
	}
	opts := []nats.Option{nats.Name("fraudscore-k8s-e2e-backlog")}
	if user != "" {
		pw, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserInfo(user, strings.TrimSpace(string(pw))))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	switch cmd {
	case "topology":
		return backlog.Ensure(ctx, js, cfg)
	case "publish":
		if err := backlog.Publish(ctx, js, cfg, n, seed); err != nil {
			return nil, err
		}
		return map[string]int{"published": n}, nil
	case "lag":
		return backlog.ReadLag(ctx, js, cfg)
	default:
		purged, err := backlog.Purge(ctx, js, cfg)
		return map[string]uint64{"purged": purged}, err
	}
}
