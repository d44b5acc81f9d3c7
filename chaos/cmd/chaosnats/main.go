// Command chaosnats is a NATS server with JetStream that can join a cluster,
// built from the nats-server module for the fault-injection suite (chaos/):
// cmd/natsserver is a single node, and a JetStream cluster needs a cluster
// name, a route port and the routes to the other nodes. It listens on
// 127.0.0.1 only and stops on SIGINT or SIGTERM (or when killed).
//
//	chaosnats -name n1 -port 4222 -cluster-port 6222 -store /tmp/n1 \
//	  -routes nats://127.0.0.1:6222,nats://127.0.0.1:6223,nats://127.0.0.1:6224
package main

import (
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
	fs := flag.NewFlagSet("chaosnats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "n1", "server name (unique in the cluster)")
	port := fs.Int("port", 4222, "client port on 127.0.0.1")
	store := fs.String("store", "", "JetStream store directory (required)")
	cluster := fs.String("cluster", "chaos", "cluster name")
	clusterPort := fs.Int("cluster-port", 0, "route port on 127.0.0.1; 0 runs a single node")
	routes := fs.String("routes", "", "comma-separated route URLs of every node (nats://127.0.0.1:port,...)")
	maxStore := fs.Int64("max-store", 2<<30, "JetStream file storage limit in bytes")
	verbose := fs.Bool("log", false, "log server events to stderr")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 1
	}
	if *store == "" {
		fmt.Fprintln(stderr, "chaosnats: -store is required")
		return 1
	}
	opts := &server.Options{
		ServerName:         *name,
		Host:               "127.0.0.1",
		Port:               *port,
		JetStream:          true,
		StoreDir:           *store,
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  *maxStore,
		MaxPayload:         1 << 20,
		NoSigs:             true,
		NoLog:              !*verbose,
	}
	if *clusterPort > 0 {
		opts.Cluster = server.ClusterOpts{Name: *cluster, Host: "127.0.0.1", Port: *clusterPort}
		opts.Routes = server.RoutesFromStr(*routes)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(stderr, "chaosnats:", err)
		return 1
	}
	if *verbose {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		fmt.Fprintln(stderr, "chaosnats: not ready within 30s")
		s.Shutdown()
		return 1
	}
	fmt.Fprintf(stderr, "chaosnats %s ready: client %s cluster port %d\n", *name, s.ClientURL(), *clusterPort)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return 0
}
