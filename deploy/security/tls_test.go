package security

import (
	"bufio"
	"crypto/x509"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
)

// serverInfo reads the server's INFO line over plain TCP.
func serverInfo(t *testing.T, url string) string {
	t.Helper()
	addr := url[strings.Index(url, "://")+3:]
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(2*time.Second)))
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	return line
}

// scoreOnce checks the worker answers a request and scores a published
// transaction into VERDICTS (read by ops).
func scoreOnce(t *testing.T, pub, ops *client, prefix string) {
	t.Helper()
	ev := events(prefix, 1)[0]
	resp, err := pub.Request(contracts.SubjectScore, mustJSON(t, &ev), 5*time.Second)
	require.NoError(t, err)
	var vd contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(resp.Data, &vd))
	assert.Equal(t, ev.TransactionID, vd.TransactionID)
	ev2 := events(prefix+"js-", 1)[0]
	publishTx(t, pub, mustJSON(t, &ev2))
	waitStreamMsgs(t, ops.js, "VERDICTS", 2) // the request's audit copy and the stream verdict
}

// withoutCA drops the CA variable from a worker environment.
func withoutCA(vars []string) []string {
	var out []string
	for _, v := range vars {
		if !strings.HasPrefix(v, "FRAUDSCORE_NATS_CA_FILE=") {
			out = append(out, v)
		}
	}
	return out
}

// TestTLSServerCertificate: tls.conf (no client certificates). The worker
// verifies the server with FRAUDSCORE_NATS_CA_FILE and authenticates with
// its password; a client or worker without the CA cannot connect.
func TestTLSServerCertificate(t *testing.T) {
	e := render(t, tlsServer)
	s := e.start(t)
	assert.Contains(t, serverInfo(t, s.url), `"tls_required":true`, "plain-text clients are not served")

	_, err := nats.Connect(s.url, nats.UserInfo("publisher", e.passwords["publisher"]), nats.MaxReconnects(0))
	require.Error(t, err, "a client without the CA must not connect")
	var unknown x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &unknown, "%v", err)

	// A worker without the CA refuses the server (and says why).
	bad := startWorker(t, withoutCA(e.workerEnv(t, s.url, "worker")))
	assert.Equal(t, 1, bad.exited(t, 20*time.Second))
	assert.Contains(t, bad.Output(), "certificate signed by unknown authority")

	w := startWorker(t, e.workerEnv(t, s.url, "worker"))
	w.waitReady(t)
	pub := e.mustConnect(t, s.url, "publisher")
	ops := e.mustConnect(t, s.url, "ops")
	scoreOnce(t, pub, ops, "tls-")
	assert.Empty(t, s.logs.matching(violationsOfConn("fraudscore-worker")))
	require.NoError(t, w.stop())
}

// TestMutualTLS: mtls.conf (verify: true). The worker connects with
// FRAUDSCORE_NATS_CERT_FILE/KEY_FILE; a client without a certificate, or
// with one from another CA, is refused; a certificate alone is not enough.
func TestMutualTLS(t *testing.T) {
	e := render(t, tlsMutual)
	s := e.start(t)
	cert := nats.ClientCert(e.pki.ClientCert, e.pki.ClientKey)

	_, err := e.connect(t, s.url, "publisher")
	require.Error(t, err, "a client without a certificate must be refused")
	t.Logf("without a client certificate: %v", err)

	rogue := testenv.NewPKI(t, filepath.Join(t.TempDir(), "rogue"))
	_, err = e.connect(t, s.url, "publisher", nats.ClientCert(rogue.ClientCert, rogue.ClientKey))
	require.Error(t, err, "a certificate from another CA must be refused")

	_, err = connectRetry(s.url, nats.RootCAs(e.pki.CAFile), cert, nats.UserInfo("publisher", "wrong"), nats.MaxReconnects(0))
	require.ErrorIs(t, err, nats.ErrAuthorization, "the certificate does not replace the password")

	// A worker without a client certificate cannot connect.
	bad := startWorker(t, e.workerEnv(t, s.url, "worker"))
	assert.Equal(t, 1, bad.exited(t, 20*time.Second))
	assert.Contains(t, bad.Output(), "fraudscore: worker: connect to")

	w := startWorker(t, e.workerEnv(t, s.url, "worker",
		"FRAUDSCORE_NATS_CERT_FILE="+e.pki.ClientCert, "FRAUDSCORE_NATS_KEY_FILE="+e.pki.ClientKey))
	w.waitReady(t)
	pub := e.mustConnect(t, s.url, "publisher", cert)
	ops := e.mustConnect(t, s.url, "ops", cert)
	scoreOnce(t, pub, ops, "mtls-")
	assert.Empty(t, s.logs.matching(violationsOfConn("fraudscore-worker")))
	require.NoError(t, w.stop())
}

// TestWorkerNKeyAuth: the same accounts.conf with the worker's credential
// file holding a public nkey instead of a password; the worker signs the
// server's nonce with its seed (FRAUDSCORE_NATS_NKEY_FILE) and keeps the
// worker permissions.
func TestWorkerNKeyAuth(t *testing.T) {
	e := render(t, tlsOff)
	kp, err := nkeys.CreateUser()
	require.NoError(t, err)
	pubKey, err := kp.PublicKey()
	require.NoError(t, err)
	seed, err := kp.Seed()
	require.NoError(t, err)
	writeFile(t, filepath.Join(e.dir, "users", "worker.conf"), "nkey: "+pubKey+"\n")
	seedFile := filepath.Join(t.TempDir(), "worker.nk")
	writeFile(t, seedFile, string(seed)+"\n")
	s := e.start(t)

	_, err = nats.Connect(s.url, nats.UserInfo("worker", e.passwords["worker"]), nats.MaxReconnects(0))
	require.ErrorIs(t, err, nats.ErrAuthorization, "no password user named worker any more")

	w := startWorker(t, []string{
		"FRAUDSCORE_NATS_URL=" + s.url,
		"FRAUDSCORE_NATS_NKEY_FILE=" + seedFile,
		"FRAUDSCORE_NATS_INBOX_PREFIX=" + workerInbox,
		"FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t),
		"FRAUDSCORE_PULL_EXPIRY=1s",
		"FRAUDSCORE_LOG_LEVEL=debug",
	})
	w.waitReady(t)
	pub := e.mustConnect(t, s.url, "publisher")
	ops := e.mustConnect(t, s.url, "ops")
	scoreOnce(t, pub, ops, "nkey-")
	assert.Empty(t, s.logs.matching(violationsOfConn("fraudscore-worker")))
	require.NoError(t, w.stop())
	assert.NotContains(t, w.Output(), string(seed), "the seed is never logged")

	// The nkey user has the worker's permissions: it may not publish
	// transactions.
	c := &client{errs: make(chan error, 16)}
	nc, err := nats.Connect(s.url, nats.Nkey(pubKey, kp.Sign), nats.MaxReconnects(0), nats.CustomInboxPrefix(workerInbox),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { c.errs <- err }))
	require.NoError(t, err)
	defer nc.Close()
	c.Conn = nc
	c.denyPublish(t, "payments.transactions.card")
}
