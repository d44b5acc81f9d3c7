package natstest

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// ServerOptions returns the options of a standalone JetStream server on a
// free 127.0.0.1 port with its store in a new temporary directory, for a test
// that needs a setting Start does not offer (a storage limit, for example);
// change them and pass them to StartOptions.
func ServerOptions(t testing.TB) *server.Options {
	t.Helper()
	return &server.Options{
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoSigs:     true,
		NoLog:      true,
	}
}

// StartOptions starts a server with opts, waits until it accepts
// connections, and shuts it down when the test ends.
func StartOptions(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: server %s: %v", opts.ServerName, err)
	}
	t.Cleanup(s.Shutdown)
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatalf("natstest: server %s not ready for connections", opts.ServerName)
	}
	return s
}

// Cluster is a JetStream cluster in process: nodes on 127.0.0.1, routed to
// each other, each with its own store, started one by one. A cluster with
// fewer than a quorum of its nodes running has no meta leader, as a fresh
// cluster whose pods are still starting.
type Cluster struct {
	t       testing.TB
	opts    []*server.Options
	servers []*server.Server
}

// NewCluster prepares a cluster of n nodes: client and route ports reserved
// (free when asked), stores in temporary directories. It starts no node.
func NewCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	base := t.TempDir()
	// Fixed ports (nodes restart on the same addresses, routes name them),
	// all distinct: chosen together.
	ports := testenv.FreePorts(t, 2*n)
	clientPorts, routePorts := ports[:n], ports[n:]
	c := &Cluster{t: t, opts: make([]*server.Options, n), servers: make([]*server.Server, n)}
	for i := range n {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(p))
			}
		}
		name := fmt.Sprintf("n%d", i)
		c.opts[i] = &server.Options{
			ServerName: name,
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   filepath.Join(base, name),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "natstest", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
	}
	return c
}

// Start starts node i (0-based) and waits until it accepts connections; it
// is shut down when the test ends.
func (c *Cluster) Start(i int) *server.Server {
	c.t.Helper()
	if c.servers[i] != nil {
		c.t.Fatalf("natstest: cluster node %d already started", i)
	}
	c.servers[i] = StartOptions(c.t, c.opts[i])
	return c.servers[i]
}

// Stop shuts node i down and waits until it has; Start(i) starts it again,
// on the same store and addresses (a restarted pod).
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	s := c.servers[i]
	if s == nil {
		c.t.Fatalf("natstest: cluster node %d is not running", i)
	}
	s.Shutdown()
	s.WaitForShutdown()
	c.servers[i] = nil
}

// Server returns node i, or nil when it has not been started.
func (c *Cluster) Server(i int) *server.Server { return c.servers[i] }

// ClientURL returns the client URLs of every node, started or not,
// comma-separated as a client's server list.
func (c *Cluster) ClientURL() string {
	urls := make([]string, len(c.opts))
	for i, o := range c.opts {
		urls[i] = "nats://127.0.0.1:" + strconv.Itoa(o.Port)
	}
	return strings.Join(urls, ",")
}

// WaitJetStreamLeader waits up to d until exactly one of servers is the
// JetStream meta leader and every one of them is current with it: before
// that, JetStream API requests to a cluster go unanswered.
func WaitJetStreamLeader(t testing.TB, d time.Duration, servers ...*server.Server) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		leaders, current := 0, 0
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				leaders++
			}
			if s.JetStreamIsCurrent() {
				current++
			}
		}
		if leaders == 1 && current == len(servers) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: no JetStream meta leader after %v (%d leaders, %d of %d current)", d, leaders, current, len(servers))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
