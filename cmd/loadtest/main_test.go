package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/loadtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// securedServer starts a JetStream server that requires a user and password
// and mutual TLS, and returns its URL and the client side's settings, as
// worker variables.
func securedServer(t *testing.T) (url string, env map[string]string) {
	t.Helper()
	dir := t.TempDir()
	pki := testenv.NewPKI(t, dir)
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	password := hex.EncodeToString(b)
	pwFile := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o600))

	opts := natstest.ServerOptions(t)
	opts.Username, opts.Password = "loadtest", password
	opts.TLSConfig, err = server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CaFile: pki.CAFile, Verify: true, Timeout: 5,
	})
	require.NoError(t, err)
	opts.TLS, opts.TLSVerify, opts.TLSTimeout = true, true, 5
	srv := natstest.StartOptions(t, opts)
	return srv.ClientURL(), map[string]string{
		"FRAUDSCORE_NATS_USER":          "loadtest",
		"FRAUDSCORE_NATS_PASSWORD_FILE": pwFile,
		"FRAUDSCORE_NATS_CA_FILE":       pki.CAFile,
		"FRAUDSCORE_NATS_CERT_FILE":     pki.ClientCert,
		"FRAUDSCORE_NATS_KEY_FILE":      pki.ClientKey,
	}
}

// runLoadtest runs the command with args and returns its exit status, its
// JSON report (-json -) when it wrote one, and its stderr.
func runLoadtest(t *testing.T, args ...string) (int, *loadtest.Report, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"-q", "-progress", "off", "-json", "-", "-max-duration", "2m"}, args...), &stdout, &stderr)
	var rep *loadtest.Report
	if stdout.Len() > 0 {
		rep = new(loadtest.Report)
		require.NoError(t, json.Unmarshal(stdout.Bytes(), rep), stdout.String())
	}
	return code, rep, stderr.String()
}

// TestSecuredServer runs the load tester against a server that requires a
// password and a client certificate, with a worker connected the same way:
// refused without the settings, every transaction stored with them (flags
// or the worker's variables).
func TestSecuredServer(t *testing.T) {
	url, conn := securedServer(t)
	flags := []string{"-url", url, "-user", conn["FRAUDSCORE_NATS_USER"], "-password-file", conn["FRAUDSCORE_NATS_PASSWORD_FILE"],
		"-ca", conn["FRAUDSCORE_NATS_CA_FILE"], "-cert", conn["FRAUDSCORE_NATS_CERT_FILE"], "-key", conn["FRAUDSCORE_NATS_KEY_FILE"]}

	// The fault: the server refuses a client without them, and one with a
	// wrong password.
	code, rep, stderr := runLoadtest(t, "-url", url, "-count", "10")
	assert.Equal(t, 1, code)
	assert.Nil(t, rep)
	assert.Contains(t, stderr, "loadtest: connect:")
	wrong := filepath.Join(t.TempDir(), "wrong")
	require.NoError(t, os.WriteFile(wrong, []byte("not-the-password"), 0o600))
	bad := append([]string{}, flags...)
	bad[5] = wrong
	code, rep, stderr = runLoadtest(t, append(bad, "-count", "10")...)
	assert.Equal(t, 1, code)
	assert.Nil(t, rep)
	assert.Contains(t, stderr, "Authorization Violation")

	httpAddr := testenv.FreeAddr(t)
	env := []string{"FRAUDSCORE_NATS_URL=" + url, "FRAUDSCORE_HTTP_ADDR=" + httpAddr,
		"FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t), "FRAUDSCORE_PULL_EXPIRY=1s"}
	for k, v := range conn {
		env = append(env, k+"="+v)
	}
	w := testenv.StartProcess(t, testenv.Binary(t, "./cmd/fraudscore"), []string{"worker"}, env)
	w.WaitHTTP(t, "http://"+httpAddr+"/readyz", 60*time.Second)

	t.Run("stream mode, flags", func(t *testing.T) {
		code, rep, stderr := runLoadtest(t, append(flags, "-count", "300", "-seed", "3")...)
		require.Equal(t, 0, code, stderr)
		require.NotNil(t, rep)
		assert.True(t, rep.OK())
		require.NotNil(t, rep.Stored)
		assert.EqualValues(t, 300, rep.Stored.Verdicts, "every transaction's verdict stored")
		assert.EqualValues(t, 300, rep.Matched)
	})
	t.Run("request mode, variables", func(t *testing.T) {
		for k, v := range conn {
			t.Setenv(k, v)
		}
		t.Setenv("FRAUDSCORE_NATS_URL", url)
		code, rep, stderr := runLoadtest(t, "-mode", "request", "-count", "100", "-seed", "4")
		require.Equal(t, 0, code, stderr)
		require.NotNil(t, rep)
		assert.True(t, rep.OK())
		assert.EqualValues(t, 100, rep.Matched)
		assert.Empty(t, rep.Errors)
	})
}

func TestConnectionSettingsAreChecked(t *testing.T) {
	code, rep, stderr := runLoadtest(t, "-count", "1", "-user", "u") // no password file
	assert.Equal(t, 1, code)
	assert.Nil(t, rep)
	assert.Contains(t, stderr, "FRAUDSCORE_NATS_USER and FRAUDSCORE_NATS_PASSWORD_FILE go together")
	code, _, stderr = runLoadtest(t, "-count", "1", "-creds", filepath.Join(t.TempDir(), "missing.creds"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "missing.creds")
}

// A command-line mistake exits with status 2 after the usage.
func TestUnknownFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-no-such-flag"}, &stdout, &stderr)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "flag provided but not defined: -no-such-flag")
	assert.Contains(t, stderr.String(), "-rate")
}
