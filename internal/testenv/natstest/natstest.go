// Package natstest starts the embedded JetStream server that fraudscore's
// tests run against: a real nats-server in process, on 127.0.0.1, with its
// store in the test's temporary directory (Start, StartAt, StartOptions), or
// a routed cluster of them (Cluster); it connects to one (JetStream) and
// publishes transactions to it (PublishEvents).
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/worker/embedded"
)

// Start runs a JetStream server on a free 127.0.0.1 port with its store in a
// new temporary directory, and shuts it down when the test ends.
func Start(t testing.TB) *server.Server {
	t.Helper()
	return StartAt(t, t.TempDir(), "127.0.0.1:-1")
}

// StartAt runs a JetStream server with its store in dir, listening on listen
// (host:port; port -1 picks a free one). Restarting on the same dir and
// address keeps the streams. The server is shut down when the test ends.
func StartAt(t testing.TB, dir, listen string) *server.Server {
	t.Helper()
	s, err := embedded.Start(embedded.Options{StoreDir: dir, Listen: listen})
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// JetStream connects to url and returns the connection's JetStream context;
// the connection is closed when the test ends.
func JetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("natstest: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return js
}

// KeepStreamsDir creates a stream (KEEP_STREAMS_DIR, on a subject nothing else uses) that the
// test never deletes, for a test that deletes its account's only stream and
// then creates one again. When an account's last stream is deleted,
// nats-server (v2.15.2, stream.stop) removes the account's emptied streams
// directory in a goroutine of its own, which races the next create's
// MkdirAll: the create then fails with "error creating store for stream"
// (its log: mkdir .../$G/streams: no such file or directory). With a stream
// left in the account the directory is never empty, so never removed.
func KeepStreamsDir(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP_STREAMS_DIR", Subjects: []string{"natstest.keep-streams-dir"}}); err != nil {
		t.Fatalf("natstest: keep the streams directory: %v", err)
	}
}
