// Command natsserver is a small standalone NATS server with JetStream, built
// from the nats-server module, for benchmarks and fault tests: it listens on
// loopback by default, keeps its JetStream store where told, and stops on
// SIGINT or SIGTERM (or when killed, for fault tests).
//
//	natsserver -port 4222 -http 8222 -store /tmp/js
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("natsserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "127.0.0.1", "client listen address")
	port := fs.Int("port", 4222, "client port (-1: pick a free one)")
	httpPort := fs.Int("http", 0, "monitoring port (/varz, /jsz); 0 for none")
	store := fs.String("store", "", "JetStream store directory (default: a new temporary directory)")
	js := fs.Bool("js", true, "enable JetStream")
	maxPayload := fs.Int("max-payload", 1<<20, "largest message in bytes")
	maxMem := fs.Int64("max-mem", 0, "JetStream memory storage limit in bytes (0: server default)")
	maxStore := fs.Int64("max-store", 0, "JetStream file storage limit in bytes (0: server default, from the free disk)")
	name := fs.String("name", "fraudscore-bench", "server name (unique in a cluster)")
	cluster := fs.String("cluster", "fraudscore", "cluster name (with -cluster-port)")
	clusterPort := fs.Int("cluster-port", 0, "route port on -host; 0 runs a single node")
	routes := fs.String("routes", "", "comma-separated route URLs of every cluster node (nats://127.0.0.1:6222,...)")
	verbose := fs.Bool("log", false, "log server events to stderr")
	prof := fs.Int("prof", 0, "serve Go's profiles (/debug/pprof) on this port of -host; 0 for none")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has printed the error and the usage
	}
	if *store == "" && *js {
		dir, err := os.MkdirTemp("", "natsserver-")
		if err != nil {
			fmt.Fprintln(stderr, "natsserver:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		*store = dir
	}
	opts := &server.Options{
		ServerName:         *name,
		Host:               *host,
		Port:               *port,
		HTTPHost:           *host,
		HTTPPort:           *httpPort,
		JetStream:          *js,
		StoreDir:           *store,
		JetStreamMaxMemory: *maxMem,
		JetStreamMaxStore:  *maxStore,
		MaxPayload:         int32(*maxPayload),
		NoSigs:             true,
		NoLog:              !*verbose,
		ProfPort:           *prof,
	}
	if *httpPort == 0 {
		opts.HTTPPort = 0
		opts.HTTPHost = ""
	}
	if *clusterPort > 0 {
		opts.Cluster = server.ClusterOpts{Name: *cluster, Host: *host, Port: *clusterPort}
		opts.Routes = server.RoutesFromStr(*routes)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(stderr, "natsserver:", err)
		return 1
	}
	if *verbose {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		fmt.Fprintln(stderr, "natsserver: not ready within 15s")
		s.Shutdown()
		return 1
	}
	fmt.Fprintf(stderr, "natsserver ready: client %s store %s jetstream %v\n", s.ClientURL(), *store, *js)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return 0
}
