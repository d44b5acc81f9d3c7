package security

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/worker"
)

// TestServerMaxPayload: the server refuses a message above max_payload
// itself (raw protocol: -ERR and disconnect; nats.go refuses before
// sending), and the TRANSACTIONS stream refuses a transaction above
// FRAUDSCORE_MAX_PAYLOAD; max_payload leaves room for a dead letter of the
// largest transaction and agrees with deploy/nats.
func TestServerMaxPayload(t *testing.T) {
	e := render(t, tlsOff)
	s := e.start(t)
	cfg := worker.DefaultConfig()
	opts, err := server.ProcessConfigFile(e.conf)
	require.NoError(t, err)
	maxPayload := int(opts.MaxPayload)
	require.Equal(t, 128*1024, maxPayload)
	assert.GreaterOrEqual(t, maxPayload, cfg.MaxPayload+4096, "a dead letter is the input plus headers")
	assert.LessOrEqual(t, maxPayload, 4*cfg.MaxPayload, "headroom, not a different limit")

	cm, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "nats", "nats.conf"))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^\s*max_payload: 128KB\s*$`, string(cm), "deploy/nats and deploy/security agree on max_payload")

	ops := e.mustConnect(t, s.url, "ops")
	createTopology(t, ops, nil)
	pub := e.mustConnect(t, s.url, "publisher")
	require.Equal(t, int64(maxPayload), pub.MaxPayload(), "the running server announces the configured limit")

	// The client knows the limit from INFO and refuses to send.
	err = pub.Publish("payments.transactions.card", make([]byte, maxPayload+1))
	require.ErrorIs(t, err, nats.ErrMaxPayload)

	// A client that ignores the limit: the server itself refuses.
	addr := s.url[len("nats://"):]
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	r := bufio.NewReader(conn)
	_, err = r.ReadString('\n') // INFO
	require.NoError(t, err)
	_, err = fmt.Fprintf(conn, "CONNECT {\"user\":\"publisher\",\"pass\":%s,\"verbose\":false,\"pedantic\":false}\r\nPING\r\n",
		strconv.Quote(e.passwords["publisher"]))
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "PONG\r\n", line, "authenticated")
	_, err = fmt.Fprintf(conn, "PUB payments.transactions.card %d\r\n", maxPayload+1)
	require.NoError(t, err)
	line, err = r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "-ERR 'Maximum Payload Violation'\r\n", line)
	_, err = r.ReadString('\n')
	assert.Error(t, err, "the server closes the connection")

	// Below the server limit, above the transaction limit: the stream
	// refuses it (and the worker would dead-letter it as too_large).
	_, err = pub.js.Publish(ctxT(t, 5*time.Second), "payments.transactions.card", make([]byte, cfg.MaxPayload+1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "maximum")
	_, err = pub.js.Publish(ctxT(t, 5*time.Second), "payments.transactions.card", make([]byte, cfg.MaxPayload))
	require.NoError(t, err, "a transaction of exactly FRAUDSCORE_MAX_PAYLOAD is stored")
}

// loadUsers loads the rendered configuration the way the server does.
func loadUsers(t *testing.T, e *env) map[string]*server.User {
	t.Helper()
	opts, err := server.ProcessConfigFile(e.conf)
	require.NoError(t, err)
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
		require.NotNil(t, u.Account)
		assert.Equal(t, "FRAUD", u.Account.Name, u.Username)
	}
	return users
}

// TestPermissionStructure checks accounts.conf statically against the
// worker's defaults: the subjects it names are the worker's, the managed
// variant is the worker minus topology changes, no service user has a
// wildcard beyond its own subjects, and a missing credential file stops the
// server.
func TestPermissionStructure(t *testing.T) {
	e := render(t, tlsOff)
	users := loadUsers(t, e)
	require.ElementsMatch(t, []string{"worker", "worker-managed-topology", "publisher", "dashboard", "labeller", "ops"}, keys(users))
	assert.Nil(t, users["ops"].Permissions, "ops administers the account")
	for name, u := range users {
		if name == "ops" {
			continue
		}
		require.NotNil(t, u.Permissions, name)
		require.NotNil(t, u.Permissions.Publish, name)
		require.NotNil(t, u.Permissions.Subscribe, name)
		for _, subj := range append(slices.Clone(u.Permissions.Publish.Allow), u.Permissions.Subscribe.Allow...) {
			assert.NotContains(t, []string{">", "*.>", "$JS.>", "$JS.API.>", "$JS.API.STREAM.>", "$JS.API.CONSUMER.>", "$JS.ACK.>", "fraud.>", "payments.>",
				"$KV.>", "$JS.API.DIRECT.GET.>", "$JS.API.STREAM.INFO.>", "$JS.API.STREAM.MSG.DELETE.>"}, subj, "%s: too broad", name)
		}
	}

	cfg := worker.DefaultConfig()
	w, m := users["worker"].Permissions, users["worker-managed-topology"].Permissions
	assert.Subset(t, w.Publish.Allow, m.Publish.Allow, "worker can do what the managed-topology worker can")
	assert.Equal(t, w.Subscribe.Allow, m.Subscribe.Allow)
	assert.NotNil(t, w.Response)
	assert.NotNil(t, m.Response)
	extra := slices.DeleteFunc(slices.Clone(w.Publish.Allow), func(s string) bool { return slices.Contains(m.Publish.Allow, s) })
	// Topology: streams, consumers (the verdict-index consumer's create
	// subject carries its filter subject), and the account info the KV
	// client reads before creating a bucket.
	topo := regexp.MustCompile(`^\$JS\.API\.(INFO|STREAM\.(CREATE|UPDATE|INFO)\.[A-Z_]+|CONSUMER\.CREATE\.[A-Z_]+\.[a-z-]+(\.>)?)$`)
	for _, s := range extra {
		assert.Regexp(t, topo, s, "the worker's extra rights are topology only")
	}
	cfg.Archive = true // the archive stream is the fifth
	lc := worker.DefaultLabelConfig()
	for _, sc := range append(worker.StreamConfigs(&cfg), worker.LabelStreamConfig(&cfg, &lc)) {
		assert.Contains(t, w.Publish.Allow, "$JS.API.STREAM.CREATE."+sc.Name)
		assert.Contains(t, w.Publish.Allow, "$JS.API.STREAM.UPDATE."+sc.Name)
		assert.NotContains(t, m.Publish.Allow, "$JS.API.STREAM.UPDATE."+sc.Name)
	}
	assert.Contains(t, w.Publish.Allow, "$JS.API.CONSUMER.CREATE."+cfg.Stream+"."+cfg.Consumer)
	assert.Contains(t, w.Publish.Allow, "$JS.API.CONSUMER.CREATE."+cfg.AdvisoryStream+"."+cfg.AdvisoryConsumr)
	for _, s := range []string{
		cfg.VerdictPrefix + ">", cfg.DLQPrefix + ">",
		"$JS.API.CONSUMER.MSG.NEXT." + cfg.Stream + "." + cfg.Consumer,
		"$JS.API.CONSUMER.MSG.NEXT." + cfg.AdvisoryStream + "." + cfg.AdvisoryConsumr,
		"$JS.ACK." + cfg.Stream + "." + cfg.Consumer + ".>",
		"$JS.ACK." + cfg.AdvisoryStream + "." + cfg.AdvisoryConsumr + ".>",
		"$JS.API.STREAM.MSG.GET." + cfg.Stream, "$JS.API.STREAM.MSG.DELETE." + cfg.Stream,
	} {
		assert.Contains(t, m.Publish.Allow, s)
	}
	checkFeaturePermissions(t, &cfg, &lc, w, m)
	assert.Contains(t, m.Subscribe.Allow, cfg.ScoreSubject+" "+cfg.QueueGroup)
	// Replies only on the worker's own inbox prefix (FRAUDSCORE_NATS_INBOX_PREFIX).
	assert.Contains(t, m.Subscribe.Allow, workerInbox+".>")
	for _, s := range m.Subscribe.Allow {
		assert.False(t, strings.HasPrefix(s, "_INBOX.") || s == "_INBOX.>", "worker: default inbox %q is too broad", s)
	}
	assert.NotContains(t, m.Subscribe.Allow, cfg.ScoreSubject)
	for _, verb := range []string{"PING", "INFO", "STATS"} {
		assert.Contains(t, m.Subscribe.Allow, "$SRV."+verb+"."+cfg.ServiceName)
	}
	assert.Equal(t, contracts.SubjectTransactions, cfg.Subjects)

	p, d := users["publisher"].Permissions, users["dashboard"].Permissions
	assert.ElementsMatch(t, []string{contracts.SubjectTransactions, contracts.SubjectScore}, p.Publish.Allow)
	assert.Equal(t, []string{inboxPrefix["publisher"] + ".>"}, p.Subscribe.Allow)
	assert.ElementsMatch(t, []string{contracts.SubjectVerdicts, inboxPrefix["dashboard"] + ".>"}, d.Subscribe.Allow)
	for _, s := range d.Publish.Allow {
		assert.Regexp(t, `^\$JS\.API\.(STREAM\.INFO|STREAM\.MSG\.GET|DIRECT\.GET)\.VERDICTS(\.>)?$`, s, "dashboard: read-only API on VERDICTS")
	}
	assert.Nil(t, p.Response)
	assert.Nil(t, d.Response)
	for _, subj := range append(slices.Clone(p.Publish.Allow), d.Publish.Allow...) {
		assert.False(t, strings.HasPrefix(subj, lc.Prefix), "%s: labels come from the labeller only", subj)
	}
	l := users["labeller"].Permissions
	assert.Equal(t, []string{lc.Prefix + ">"}, l.Publish.Allow, "labeller: publishes labels, nothing else")
	assert.Equal(t, worker.LabelStreamConfig(&cfg, &lc).Subjects, l.Publish.Allow, "exactly the label stream's subjects")
	assert.Equal(t, []string{inboxPrefix["labeller"] + ".>"}, l.Subscribe.Allow, "labeller: reads nothing but its replies")
	assert.Nil(t, l.Response)

	// Fail closed: without a user's credential file the server does not start.
	require.NoError(t, os.Remove(filepath.Join(e.dir, "users", "publisher.conf")))
	_, err := server.ProcessConfigFile(e.conf)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "publisher.conf")
}

// checkFeaturePermissions checks the worker users' rights for the label
// join, the archive and the velocity bucket against the worker's default
// names: each consumer, bucket and stream by name, reads and writes of a
// bucket under its own subjects only, and nothing that deletes or purges
// beyond single messages of TRANSACTIONS (max deliveries) and LABELS (a
// label holding card data).
func checkFeaturePermissions(t *testing.T, cfg *worker.Config, lc *worker.LabelConfig, w, m *server.Permissions) {
	t.Helper()
	buckets := []string{lc.IndexBucket, lc.StateBucket, cfg.VelocityBucket}
	runtime := []string{
		cfg.ArchivePrefix + ">", "$JS.API.STREAM.INFO." + cfg.ArchiveStream,
		"$JS.API.STREAM.INFO." + lc.Stream, "$JS.API.STREAM.MSG.DELETE." + lc.Stream,
	}
	for _, c := range [][2]string{{lc.Stream, lc.Consumer}, {cfg.VerdictStream, lc.IndexConsumer}} {
		runtime = append(runtime, "$JS.API.CONSUMER.INFO."+c[0]+"."+c[1], "$JS.API.CONSUMER.MSG.NEXT."+c[0]+"."+c[1],
			"$JS.ACK."+c[0]+"."+c[1]+".>")
	}
	for _, b := range buckets {
		runtime = append(runtime, "$JS.API.STREAM.INFO.KV_"+b, "$JS.API.DIRECT.GET.KV_"+b+".$KV."+b+".>", "$KV."+b+".>")
	}
	for _, s := range runtime {
		assert.Contains(t, m.Publish.Allow, s)
		assert.Contains(t, w.Publish.Allow, s)
	}
	topology := []string{
		"$JS.API.INFO",
		"$JS.API.CONSUMER.CREATE." + lc.Stream + "." + lc.Consumer,
		"$JS.API.CONSUMER.CREATE." + cfg.VerdictStream + "." + lc.IndexConsumer + ".>",
	}
	for _, st := range append([]string{lc.Stream, cfg.ArchiveStream}, "KV_"+buckets[0], "KV_"+buckets[1], "KV_"+buckets[2]) {
		topology = append(topology, "$JS.API.STREAM.CREATE."+st, "$JS.API.STREAM.UPDATE."+st)
	}
	for _, s := range topology {
		assert.Contains(t, w.Publish.Allow, s)
		assert.NotContains(t, m.Publish.Allow, s)
	}
	for _, s := range w.Publish.Allow {
		if strings.HasPrefix(s, "$KV.") {
			assert.Regexp(t, `^\$KV\.(`+strings.Join(buckets, "|")+`)\.>$`, s, "KV writes by bucket")
		}
		if strings.HasPrefix(s, "$JS.API.DIRECT.GET.KV_") {
			assert.Regexp(t, `^\$JS\.API\.DIRECT\.GET\.KV_([A-Z_]+)\.\$KV\.([A-Z_]+)\.>$`, s, "KV reads of one bucket's keys")
		}
		if strings.Contains(s, "DELETE") || strings.Contains(s, "PURGE") {
			assert.Contains(t, []string{"$JS.API.STREAM.MSG.DELETE." + cfg.Stream, "$JS.API.STREAM.MSG.DELETE." + lc.Stream}, s,
				"the worker deletes single messages of its input and of labels, nothing else")
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestClusterConfig loads deploy/nats/nats.conf (the 3-node cluster's
// configuration) the way its pods do: with deploy/security's accounts.conf
// and tls.conf and users/<user>.conf next to it (the projected volume of
// deploy/nats/statefulset.yaml), TLS files at test paths. It must give the
// same users, permissions, limits and TLS as nats-server.conf, plus the
// cluster routes and their TLS (TestClusterRoutesTLS runs them).
func TestClusterConfig(t *testing.T) {
	e := render(t, tlsServer)
	single, err := server.ProcessConfigFile(e.conf)
	require.NoError(t, err)

	conf := readRepo(t, "deploy/nats/nats.conf")
	for _, inc := range []string{"include ./accounts.conf", "include ./tls.conf"} {
		require.Contains(t, conf, inc, "relative includes, as mounted by the StatefulSet")
	}
	// Route TLS files at the test PKI's paths (tls.conf's were rendered).
	require.Contains(t, conf, routeTLSDir)
	conf = strings.ReplaceAll(conf, routeTLSDir, filepath.Dir(e.pki.CAFile)+string(filepath.Separator))
	clusterConf := filepath.Join(e.dir, "nats.conf") // next to accounts.conf, tls.conf, users/
	writeFile(t, clusterConf, conf)
	t.Setenv("POD_NAME", "nats-0")
	opts, err := server.ProcessConfigFile(clusterConf)
	require.NoError(t, err, "deploy/nats/nats.conf with deploy/security's files must load")

	assert.Equal(t, "nats-0", opts.ServerName)
	assert.Equal(t, "fraudscore", opts.Cluster.Name)
	assert.Len(t, opts.Routes, 3)
	assert.True(t, opts.JetStream)
	assert.NotNil(t, opts.TLSConfig, "client TLS from tls.conf")
	if assert.NotNil(t, opts.Cluster.TLSConfig, "route TLS") {
		assert.Equal(t, tls.RequireAndVerifyClientCert, opts.Cluster.TLSConfig.ClientAuth, "route peers must present a certificate from the CA")
		assert.NotNil(t, opts.Cluster.TLSConfig.RootCAs, "route peers are verified against ca.crt")
		assert.GreaterOrEqual(t, opts.Cluster.TLSConfig.MinVersion, uint16(tls.VersionTLS12))
	}
	assert.Equal(t, single.MaxPayload, opts.MaxPayload)
	assert.Equal(t, single.MaxConn, opts.MaxConn)
	assert.Equal(t, single.MaxControlLine, opts.MaxControlLine)
	assert.Equal(t, single.AuthTimeout, opts.AuthTimeout)
	assert.Equal(t, single.JetStreamMaxStore, opts.JetStreamMaxStore)
	assert.Equal(t, single.JetStreamMaxMemory, opts.JetStreamMaxMemory)
	assert.False(t, opts.NoAuthUser != "", "no anonymous user")

	byName := func(o *server.Options) map[string]*server.User {
		m := map[string]*server.User{}
		for _, u := range o.Users {
			m[u.Username] = u
		}
		return m
	}
	want, got := byName(single), byName(opts)
	require.ElementsMatch(t, keys(want), keys(got), "the cluster has exactly the users of accounts.conf")
	for name, u := range want {
		assert.Equal(t, u.Permissions, got[name].Permissions, "%s: permissions", name)
		assert.Equal(t, "FRAUD", got[name].Account.Name, name)
	}
	assert.Contains(t, got["worker"].Permissions.Subscribe.Allow, workerInbox+".>")
}
