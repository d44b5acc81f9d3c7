package security

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

// routeTLSDir is where deploy/nats/nats.conf reads the route certificate,
// its key and the CA (the Secret nats-tls, as for client TLS).
const routeTLSDir = "/etc/nats/tls/"

// clusterNode loads deploy/nats/nats.conf for pod (nats-N) as the
// StatefulSet mounts it: next to the rendered accounts.conf, tls.conf and
// users/, $POD_NAME = pod, the TLS files of /etc/nats/tls from tlsDir. What
// a test cannot keep is adapted: listen addresses are free 127.0.0.1 ports
// (routePorts[N] is pod nats-N's route port), each route URL
// (nats-N.nats-headless:6222) points at that port, the store is a temporary
// directory, no monitoring port or pid file.
func (e *env) clusterNode(t *testing.T, pod, tlsDir string, routePorts []int, routePort int) *server.Options {
	t.Helper()
	conf := readRepo(t, "deploy/nats/nats.conf")
	require.Contains(t, conf, routeTLSDir+"ca.crt", "routes verify their peers against the CA")
	conf = strings.ReplaceAll(conf, routeTLSDir, tlsDir+string(filepath.Separator))
	file := filepath.Join(e.dir, pod+".conf") // next to accounts.conf, tls.conf, users/
	writeFile(t, file, conf)
	t.Setenv("POD_NAME", pod)
	opts, err := server.ProcessConfigFile(file)
	require.NoError(t, err, "deploy/nats/nats.conf must load")
	require.NotNil(t, opts.Cluster.TLSConfig, "cluster routes have TLS")
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.PidFile = ""
	opts.StoreDir = filepath.Join(e.dir, "jetstream-"+pod)
	opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", routePort
	for _, r := range opts.Routes {
		var n int
		_, err := fmt.Sscanf(r.Hostname(), "nats-%d", &n)
		require.NoError(t, err, "route %s names a pod", r)
		require.Less(t, n, len(routePorts), "route %s names a pod of the StatefulSet", r)
		r.Host = fmt.Sprintf("127.0.0.1:%d", routePorts[n])
	}
	return opts
}

// routePeers returns the names of the servers s has routes with.
func routePeers(t *testing.T, s *natsServer) []string {
	t.Helper()
	rz, err := s.Routez(nil)
	require.NoError(t, err)
	var peers []string
	for _, r := range rz.Routes {
		if !slices.Contains(peers, r.RemoteName) {
			peers = append(peers, r.RemoteName)
		}
	}
	slices.Sort(peers)
	return peers
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replicaMsgs returns how many messages s's replica of stream in account
// FRAUD holds, or -1 when s has no replica.
func replicaMsgs(t *testing.T, s *natsServer, stream string) int {
	t.Helper()
	jsz, err := s.Jsz(&server.JSzOptions{Account: "FRAUD", Streams: true})
	require.NoError(t, err)
	for _, a := range jsz.AccountDetails {
		for _, sd := range a.Streams {
			if sd.Name == stream {
				return int(sd.State.Msgs)
			}
		}
	}
	return -1
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	writeFile(t, dst, string(b))
}

// TestClusterRoutesTLS: deploy/nats/nats.conf on three real nodes (the
// StatefulSet's pods) with deploy/security's files and a test CA. Routes form
// over mutual TLS with the certificate clients see (the Secret nats-tls);
// the route port speaks nothing but TLS and wants a certificate from the CA;
// a fourth node whose route certificate another CA signed, and one without
// route TLS, are refused by the cluster (their attempts are logged, the
// routes and the JetStream peers stay the three nodes); an R3 stream
// replicates over the TLS routes to every node and survives losing its
// leader.
func TestClusterRoutesTLS(t *testing.T) {
	e := render(t, tlsServer)
	tlsDir := filepath.Dir(e.pki.CAFile)
	const n = 3
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = testenv.FreePort(t)
	}
	nodes := make([]*natsServer, n)
	for i := range nodes {
		pod := fmt.Sprintf("nats-%d", i)
		nodes[i] = e.startOptions(t, e.clusterNode(t, pod, tlsDir, routePorts, routePorts[i]))
	}
	names := []string{"nats-0", "nats-1", "nats-2"}
	for i, s := range nodes {
		others := slices.Delete(slices.Clone(names), i, i+1)
		waitFor(t, 60*time.Second, names[i]+" routed to the two other nodes", func() bool {
			return slices.Equal(routePeers(t, s), others)
		})
		vz, err := s.Varz(nil)
		require.NoError(t, err)
		assert.True(t, vz.Cluster.TLSRequired, "%s: routes require TLS", names[i])
		assert.True(t, vz.Cluster.TLSVerify, "%s: routes verify the peer's certificate", names[i])
	}
	servers := make([]*server.Server, n)
	for i, s := range nodes {
		servers[i] = s.Server
	}
	natstest.WaitJetStreamLeader(t, 60*time.Second, servers...)
	routesBefore := make([]int, n)
	for i, s := range nodes {
		routesBefore[i] = s.NumRoutes()
		require.Positive(t, routesBefore[i])
	}

	t.Run("route port speaks only TLS with a certificate from the CA", func(t *testing.T) {
		addr := nodes[0].ClusterAddr().String()
		ca := x509.NewCertPool()
		pem, err := os.ReadFile(e.pki.CAFile)
		require.NoError(t, err)
		require.True(t, ca.AppendCertsFromPEM(pem))

		// Plain text: the server expects a TLS handshake and drops it.
		mark := len(nodes[0].logs.buf.String())
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = fmt.Fprintf(conn, "CONNECT {}\r\nPING\r\n")
		require.NoError(t, err)
		_, err = bufio.NewReader(conn).ReadString('\n')
		assert.Error(t, err, "no protocol line for a plain-text peer")
		conn.Close()
		waitFor(t, 10*time.Second, "the plain-text attempt is logged", func() bool {
			return strings.Contains(nodes[0].logs.buf.String()[mark:], "TLS route handshake error")
		})

		readInfo := func(certs []tls.Certificate) (string, error) {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
				&tls.Config{RootCAs: ca, Certificates: certs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
			if err != nil {
				return "", err
			}
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			return bufio.NewReader(c).ReadString('\n')
		}
		// TLS without a client certificate: refused (in TLS 1.3 the
		// refusal arrives on the first read).
		_, err = readInfo(nil)
		require.Error(t, err, "a route peer without a certificate")
		t.Logf("without a certificate: %v", err)

		// The route certificate from the CA: the server's route INFO.
		cert, err := tls.LoadX509KeyPair(e.pki.ServerCert, e.pki.ServerKey)
		require.NoError(t, err)
		info, err := readInfo([]tls.Certificate{cert})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(info, "INFO "), "%q", info)
		assert.Contains(t, info, `"cluster":"fraudscore"`)
		assert.Contains(t, info, `"tls_required":true`)
	})

	const stream, msgs = "ROUTES_TLS", 20
	ops := e.mustConnect(t, nodes[0].url, "ops")
	ctx := ctxT(t, time.Minute)
	_, err := ops.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{"routes.tls.>"}, Replicas: 3, Storage: jetstream.FileStorage, AllowDirect: true,
	})
	require.NoError(t, err, "an R3 stream on the TLS-routed cluster")
	for i := 1; i <= msgs; i++ {
		ack, err := ops.js.Publish(ctx, "routes.tls.msg", fmt.Appendf(nil, "message %d", i))
		require.NoError(t, err)
		require.Equal(t, uint64(i), ack.Sequence)
	}
	for i, s := range nodes {
		waitFor(t, 30*time.Second, names[i]+" holds every message in its replica", func() bool {
			return replicaMsgs(t, s, stream) == msgs
		})
	}
	// Read back through each node (direct gets are answered by a replica).
	readAll := func(t *testing.T, s *natsServer, want int) {
		t.Helper()
		ctx := ctxT(t, 30*time.Second)
		c := e.mustConnect(t, s.url, "ops")
		st, err := c.js.Stream(ctx, stream)
		require.NoError(t, err)
		for seq := 1; seq <= want; seq++ {
			m, err := st.GetMsg(ctx, uint64(seq))
			require.NoError(t, err, "message %d through %s", seq, s.Name())
			assert.Equal(t, fmt.Sprintf("message %d", seq), string(m.Data))
		}
	}
	for _, s := range nodes {
		readAll(t, s, msgs)
	}

	for _, rogue := range []struct {
		name string
		// tls builds the rogue node's /etc/nats/tls, or is nil for a node
		// without route TLS.
		tls func(dir string)
		log string // what the cluster's nodes log for its attempts
	}{
		{"route certificate from another CA", func(dir string) {
			other := testenv.NewPKI(t, filepath.Join(t.TempDir(), "other-ca"))
			copyFile(t, e.pki.CAFile, filepath.Join(dir, "ca.crt")) // it trusts the cluster
			copyFile(t, other.ServerCert, filepath.Join(dir, "tls.crt"))
			copyFile(t, other.ServerKey, filepath.Join(dir, "tls.key"))
		}, "certificate signed by unknown authority"},
		{"no route TLS", nil, "TLS route handshake error"},
	} {
		t.Run("refused: "+rogue.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tls")
			pod := "nats-3" // as if the StatefulSet had a fourth replica
			var opts *server.Options
			if rogue.tls != nil {
				rogue.tls(dir)
				opts = e.clusterNode(t, pod, dir, routePorts, testenv.FreePort(t))
			} else {
				opts = e.clusterNode(t, pod, tlsDir, routePorts, testenv.FreePort(t))
				opts.Cluster.TLSConfig = nil
			}
			marks := make([]int, n)
			for i, s := range nodes {
				marks[i] = len(s.logs.buf.String())
			}
			r := e.startOptions(t, opts)
			// Every node of the cluster refuses it, and says so.
			for i, s := range nodes {
				waitFor(t, 30*time.Second, names[i]+" logs the refused route", func() bool {
					return strings.Contains(s.logs.buf.String()[marks[i]:], rogue.log)
				})
			}
			t.Logf("logged: %s", firstLine(nodes[0].logs.buf.String()[marks[0]:], rogue.log))
			for i, s := range nodes {
				assert.Equal(t, slices.Delete(slices.Clone(names), i, i+1), routePeers(t, s), "%s routes", names[i])
				assert.Equal(t, routesBefore[i], s.NumRoutes(), "%s route count", names[i])
			}
			assert.Zero(t, r.NumRoutes(), "the refused node has no route")
			assert.Empty(t, routePeers(t, r))
			peers := nodes[0].JetStreamClusterPeers()
			for _, s := range nodes[1:] {
				peers = append(peers, s.JetStreamClusterPeers()...)
			}
			assert.NotContains(t, peers, pod, "the refused node never joins JetStream")
			r.Shutdown()
		})
	}

	// Leader change: stop the stream leader; the other two keep a quorum
	// over their TLS route, elect a new leader, serve every message and
	// take new ones.
	ctx = ctxT(t, 2*time.Minute)
	st, err := ops.js.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	leader := slices.Index(names, info.Cluster.Leader)
	require.GreaterOrEqual(t, leader, 0, "leader %q", info.Cluster.Leader)
	nodes[leader].Shutdown()
	nodes[leader].WaitForShutdown()
	survivor := nodes[(leader+1)%n]
	c := e.mustConnect(t, survivor.url, "ops")
	waitFor(t, 60*time.Second, "a new stream leader", func() bool {
		ctx := ctxT(t, 5*time.Second)
		st, err := c.js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		in, err := st.Info(ctx)
		return err == nil && in.Cluster.Leader != "" && in.Cluster.Leader != names[leader]
	})
	ack, err := c.js.Publish(ctx, "routes.tls.msg", fmt.Appendf(nil, "message %d", msgs+1))
	require.NoError(t, err, "two of three nodes still take writes")
	require.Equal(t, uint64(msgs+1), ack.Sequence)
	for i, s := range nodes {
		if i == leader {
			continue
		}
		waitFor(t, 30*time.Second, names[i]+" replicates the write after the leader change", func() bool {
			return replicaMsgs(t, s, stream) == msgs+1
		})
		readAll(t, s, msgs+1)
	}
}

// firstLine returns the first line of s containing sub.
func firstLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
