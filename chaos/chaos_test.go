package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// size is the volume of one scenario.
type size struct {
	n    int
	rate float64
}

// full reports whether the full suite runs (make chaos).
func full() bool { return os.Getenv("FRAUDSCORE_CHAOS") == "full" }

// volume returns the CI or the full volume.
func volume(ci, big size) size {
	if full() {
		return big
	}
	return ci
}

func skipUnlessChaos(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fault-injection suite: skipped with -short")
	}
	if os.Getenv("FRAUDSCORE_CHAOS") == "off" {
		t.Skip("FRAUDSCORE_CHAOS=off")
	}
}

// system is one scenario's processes.
type system struct {
	t       *testing.T
	logDir  string
	nodes   []*natsNode
	url     string
	models  string
	workers []*workerProc
}

// newSystem starts a single node (or a 3-node cluster) and n workers that
// share the consumer; the model store is a temporary copy of models/.
func newSystem(t *testing.T, cluster bool, n int, extraEnv ...string) *system {
	t.Helper()
	s := &system{t: t, logDir: t.TempDir(), models: copyModels(t)}
	if cluster {
		s.nodes = startCluster(t, s.logDir)
		s.url = urls(s.nodes)
		waitJetStream(t, s.url)
	} else {
		s.nodes = []*natsNode{startSingle(t, s.logDir)}
		s.url = s.nodes[0].url()
	}
	// Cleanups run last-registered first: the servers stop after the workers.
	t.Cleanup(func() {
		for _, node := range s.nodes {
			_ = node.p.stop(10 * time.Second)
		}
	})
	for i := range n {
		w := newWorker(t, s.logDir, fmt.Sprintf("w%d", i+1), s.url, s.models, extraEnv...)
		w.start(true)
		s.workers = append(s.workers, w)
	}
	// Stop the workers together (SIGTERM, graceful drain), before the servers.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, w := range s.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := w.p.stop(20 * time.Second); err != nil {
					t.Logf("stop %s: %v", w.id, err)
				}
			}()
		}
		wg.Wait()
	})
	// Servers stop after the workers (cleanups run last-registered first,
	// and the nodes registered theirs before the workers).
	return s
}

// waitJetStream waits until the cluster has a meta leader and answers
// JetStream API requests.
func waitJetStream(t *testing.T, url string) {
	t.Helper()
	_, js := connectJS(t, url, "chaos-wait")
	if !waitUntil(60*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	}) {
		t.Fatal("JetStream cluster not ready within 60s")
	}
}

// copyModels copies the repository's model store (the latest version and
// the latest link) into a temporary directory.
func copyModels(t *testing.T) string {
	t.Helper()
	src := filepath.Join(repoRoot(), "models")
	v, err := modelstore.Open(src).Latest()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "models")
	copyDir(t, filepath.Join(src, v), filepath.Join(dst, v))
	if err := os.Symlink(v, filepath.Join(dst, modelstore.LatestLink)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// run publishes sz transactions (every garbage-th one garbage, 0 for none),
// calls fault once a third of them is sent, waits until the system is
// quiet, reads the streams and checks exactly-once. It returns the counts.
func (s *system) run(name string, sz size, garbage int, fault func(tr *traffic)) counts {
	t := s.t
	t.Helper()
	ctx := withTimeout(t, 8*time.Minute)
	nc, err := connect(s.url, "chaos-traffic")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tr := newTraffic(sz.n, sz.rate, garbage)
	pubDone := make(chan error, 1)
	go func() { pubDone <- tr.run(ctx, nc, 90*time.Second) }()
	if fault != nil {
		if waitUntil(5*time.Minute, func() bool { return tr.sent.Load() >= int64(sz.n/3) }) {
			fault(tr)
		}
	}
	if err := <-pubDone; err != nil {
		t.Errorf("%s: publish: %v", name, err)
	}
	vc, js := connectJS(t, s.url, "chaos-verify")
	if err := quiesce(ctx, js, 3*time.Minute); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	o, err := readOutcome(ctx, vc, tr)
	if err != nil {
		t.Fatalf("%s: read streams: %v", name, err)
	}
	c := summarize(tr, o)
	line := fmt.Sprintf("CHAOS %-22s %s", name, c)
	t.Log(line)

	if err := c.exactlyOnce(); err != nil {
		t.Errorf("%s: exactly-once violated: %v", name, err)
	}
	if c.Unconfirmed > 0 {
		t.Errorf("%s: %d publishes never confirmed", name, c.Unconfirmed)
	}
	if t.Failed() {
		s.dumpLogs()
	}
	return c
}

// dumpLogs logs the tail of every process's log.
func (s *system) dumpLogs() {
	for _, n := range s.nodes {
		if n.p != nil {
			s.t.Logf("--- %s log:\n%s", n.name, n.p.tail(20))
		}
	}
	for _, w := range s.workers {
		s.t.Logf("--- %s log:\n%s", w.id, w.p.tail(40))
	}
}

// workerStat is a line of worker counters for the scenario log.
func (s *system) workerStats() string {
	var parts []string
	var received float64
	alive := true
	for _, w := range s.workers {
		rcv, ok1 := w.metric("fraudscore_messages_received_total")
		ack, _ := w.metric("fraudscore_messages_acked_total")
		nak, _ := w.metric("fraudscore_messages_nacked_total")
		dl, _ := w.metric("fraudscore_dead_letters_total")
		rc, _ := w.metric("fraudscore_nats_reconnects_total")
		if !ok1 {
			parts = append(parts, w.id+": down")
			alive = false
			continue
		}
		received += rcv
		parts = append(parts, fmt.Sprintf("%s: received %.0f acked %.0f nacked %.0f dead-lettered %.0f reconnects %.0f", w.id, rcv, ack, nak, dl, rc))
	}
	if alive {
		parts = append(parts, fmt.Sprintf("deliveries in all %.0f", received))
	}
	return strings.Join(parts, "; ")
}

func (s *system) logStats(name string) {
	line := fmt.Sprintf("CHAOS %-22s workers: %s", name, s.workerStats())
	s.t.Log(line)

}

// checkValid: without garbage, every transaction is valid and must end as a
// verdict (a dead letter would mean max deliveries were reached).
func checkAllVerdicts(t *testing.T, name string, c counts) {
	t.Helper()
	if c.ValidDeadLettered > 0 {
		t.Errorf("%s: %d valid transactions were dead-lettered (%v)", name, c.ValidDeadLettered, c.Reasons)
	}
}

// TestChaos runs every fault scenario against real processes. The bounded
// CI version runs in `go test ./...`; FRAUDSCORE_CHAOS=full runs larger
// volumes (make chaos).
func TestChaos(t *testing.T) {
	skipUnlessChaos(t)
	bins(t)
	small := volume(size{n: 2400, rate: 400}, size{n: 60000, rate: 2000})

	t.Run("a_sigkill_worker", func(t *testing.T) {
		s := newSystem(t, false, 3)
		c := s.run("a_sigkill_worker", small, 0, func(*traffic) {
			victim := s.workers[2]
			rcv, _ := victim.metric("fraudscore_messages_received_total")
			inflight, _ := victim.metric("fraudscore_in_flight_messages")
			t.Logf("SIGKILL %s (pid %d) after it received %.0f messages, %.0f in flight", victim.id, victim.p.Pid(), rcv, inflight)
			victim.p.kill()
		})
		s.logStats("a_sigkill_worker")
		checkAllVerdicts(t, "a", c)
	})

	t.Run("b_sigstop_worker", func(t *testing.T) {
		s := newSystem(t, false, 3)
		c := s.run("b_sigstop_worker", small, 0, func(*traffic) {
			victim := s.workers[1]
			inflight, _ := victim.metric("fraudscore_in_flight_messages")
			pause := 3 * 2 * time.Second // three AckWaits
			t.Logf("SIGSTOP %s (pid %d) for %s with %.0f messages in flight", victim.id, victim.p.Pid(), pause, inflight)
			if err := victim.p.signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			time.Sleep(pause)
			if err := victim.p.signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			t.Logf("SIGCONT %s", victim.id)
		})
		s.logStats("b_sigstop_worker")
		checkAllVerdicts(t, "b", c)
		for _, w := range s.workers {
			if code, body := w.probe("/readyz"); code != http.StatusOK {
				t.Errorf("%s not ready after the scenario: %d %s", w.id, code, body)
			}
		}
	})

	t.Run("c_restart_server", func(t *testing.T) {
		s := newSystem(t, false, 2)
		c := s.run("c_restart_server", small, 0, func(*traffic) {
			node := s.nodes[0]
			t.Logf("SIGKILL natsserver (pid %d), restart on port %d with store %s", node.p.Pid(), node.port, node.dir)
			node.p.kill()
			time.Sleep(time.Second)
			node.start()
		})
		s.logStats("c_restart_server")
		checkAllVerdicts(t, "c", c)
		for _, w := range s.workers {
			if !waitUntil(30*time.Second, func() bool { code, _ := w.probe("/readyz"); return code == http.StatusOK }) {
				code, body := w.probe("/readyz")
				t.Errorf("%s not ready after the restart: %d %s", w.id, code, body)
			}
		}
	})

	t.Run("d_cluster_leader_loss", func(t *testing.T) {
		// VERDICTS reserves its MaxBytes on each replica: 1 GiB fits the nodes' 2 GiB store limit.
		s := newSystem(t, true, 2, "FRAUDSCORE_STREAM_REPLICAS=3", "FRAUDSCORE_VERDICT_MAX_BYTES=1073741824")
		sz := volume(size{n: 2000, rate: 200}, size{n: 30000, rate: 1000})
		c := s.run("d_cluster_leader_loss", sz, 0, func(*traffic) {
			leader := streamLeader(t, s.url, streamTx)
			for _, n := range s.nodes {
				if n.name == leader {
					t.Logf("SIGKILL %s (pid %d), leader of %s", n.name, n.p.Pid(), streamTx)
					n.p.kill()
				}
			}
			if !waitUntil(30*time.Second, func() bool { l := streamLeader(t, s.url, streamTx); return l != "" && l != leader }) {
				t.Errorf("no new leader of %s within 30s", streamTx)
				return
			}
			t.Logf("new leader of %s: %s", streamTx, streamLeader(t, s.url, streamTx))
		})
		s.logStats("d_cluster_leader_loss")
		checkAllVerdicts(t, "d", c)
	})

	t.Run("e_garbage_flood", func(t *testing.T) {
		s := newSystem(t, false, 2)
		c := s.run("e_garbage_flood", small, 10, nil)
		s.logStats("e_garbage_flood")
		if c.Garbage == 0 || c.Garbage*10 < c.Published-10 {
			t.Errorf("garbage share: %d of %d", c.Garbage, c.Published)
		}
		if c.ValidDeadLettered > 0 || c.GarbageWithVerdict > 0 {
			t.Errorf("valid dead-lettered %d, garbage with a verdict %d", c.ValidDeadLettered, c.GarbageWithVerdict)
		}
		if c.DeadLetters != c.Garbage || c.Verdicts != c.Valid {
			t.Errorf("want %d verdicts and %d dead letters, got %d and %d", c.Valid, c.Garbage, c.Verdicts, c.DeadLetters)
		}
		for reason := range c.Reasons {
			if reason != "malformed" && reason != "invalid" {
				t.Errorf("unexpected dead-letter reason %q", reason)
			}
		}
	})

	t.Run("f_tampered_model", func(t *testing.T) {
		s := newSystem(t, false, 2)
		restarted := s.workers[1]
		var tampered string
		c := s.run("f_tampered_model", small, 0, func(*traffic) {
			tampered = tamperLatest(t, s.models)
			t.Logf("models/latest -> %s (model.json changed after its sha256 was recorded); restart %s", tampered, restarted.id)
			if err := restarted.p.stop(20 * time.Second); err != nil {
				t.Errorf("stop %s: %v", restarted.id, err)
			}
			restarted.start(false)
			var code int
			var body string
			if !waitUntil(30*time.Second, func() bool {
				code, body = restarted.probe("/readyz")
				return code == http.StatusServiceUnavailable && strings.Contains(body, "sha256")
			}) {
				t.Errorf("restarted worker /readyz: want 503 naming the sha256 mismatch, got %d %q", code, body)
			}
			t.Logf("%s /readyz: %d %s", restarted.id, code, strings.TrimSpace(body))
		})
		s.logStats("f_tampered_model")
		checkAllVerdicts(t, "f", c)
		if fails, ok := restarted.metric("fraudscore_model_load_failures_total"); !ok || fails < 1 {
			t.Errorf("restarted worker: fraudscore_model_load_failures_total = %v (found %v), want >= 1", fails, ok)
		}
		if rcv, _ := restarted.metric("fraudscore_messages_received_total"); rcv != 0 {
			t.Errorf("restarted worker consumed %v messages with a refused model", rcv)
		}
		if code, body := restarted.probe("/readyz"); code != http.StatusServiceUnavailable {
			t.Errorf("restarted worker ready with a tampered model: %d %s", code, body)
		}
		lines := restarted.p.grep("model refused")
		if len(lines) == 0 {
			t.Errorf("restarted worker logged no \"model refused\" line:\n%s", restarted.p.tail(20))
		} else {
			t.Logf("%s log: %s", restarted.id, lines[0])
		}
		if code, body := s.workers[0].probe("/readyz"); code != http.StatusOK {
			t.Errorf("%s (kept its model) not ready: %d %s", s.workers[0].id, code, body)
		}
	})

	t.Run("g_verdict_store_refuses", func(t *testing.T) {
		s := newSystem(t, false, 2)
		c := s.run("g_verdict_store_refuses", small, 0, func(*traffic) {
			outage(t, s.url, streamVerdicts, 3*time.Second)
		})
		s.logStats("g_verdict_store_refuses")
		checkAllVerdicts(t, "g", c)
		var naks float64
		for _, w := range s.workers {
			n, _ := w.metric("fraudscore_messages_nacked_total")
			naks += n
		}
		if naks == 0 {
			t.Errorf("no NAK while VERDICTS refused publishes: the outage did not bite")
		}
	})

	t.Run("h_dlq_unavailable", func(t *testing.T) {
		s := newSystem(t, false, 2)
		c := s.run("h_dlq_unavailable", small, 10, func(*traffic) {
			outage(t, s.url, streamDLQ, 3*time.Second)
		})
		s.logStats("h_dlq_unavailable")
		if c.ValidDeadLettered > 0 || c.GarbageWithVerdict > 0 || c.DeadLetters != c.Garbage {
			t.Errorf("want every garbage message dead-lettered once and no valid one: %s", c)
		}
		var naks float64
		for _, w := range s.workers {
			n, _ := w.metric("fraudscore_messages_nacked_total")
			naks += n
		}
		if naks == 0 {
			t.Errorf("no NAK while FRAUD_DLQ was unavailable: the outage did not bite")
		}
	})
}

// outage makes a stream stop accepting publishes for d by moving it to
// other subjects (publishers get "no responders", as when the stream has no
// leader or its server is gone), then restores it.
func outage(t *testing.T, url, stream string, d time.Duration) {
	t.Helper()
	_, js := connectJS(t, url, "chaos-outage")
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	orig := info.Config
	off := orig
	off.Subjects = []string{"chaos.outage." + strings.ToLower(stream) + ".>"}
	if _, err := js.UpdateStream(ctx, off); err != nil {
		t.Fatalf("take %s away: %v", stream, err)
	}
	t.Logf("%s takes no publishes for %s", stream, d)
	time.Sleep(d)
	if _, err := js.UpdateStream(ctx, orig); err != nil {
		t.Fatalf("restore %s: %v", stream, err)
	}
	t.Logf("%s restored", stream)
}

// streamLeader returns the server name leading a stream's raft group.
func streamLeader(t *testing.T, url, stream string) string {
	nc, err := connect(url, "chaos-leader")
	if err != nil {
		return ""
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return ""
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// tamperLatest copies the latest version to a newer one whose model file no
// longer matches the sha256 in its metadata, and points latest at it
// atomically (as a bad deploy or a corrupted volume would).
func tamperLatest(t *testing.T, dir string) string {
	t.Helper()
	st := modelstore.Open(dir)
	cur, err := st.Latest()
	if err != nil {
		t.Fatal(err)
	}
	name := "v20991231_235959"
	vdir := filepath.Join(dir, name)
	copyDir(t, filepath.Join(dir, cur), vdir)
	metaPath := filepath.Join(vdir, modelstore.MetadataFile)
	meta, err := os.ReadFile(metaPath)
	if err != nil {
		t.Fatal(err)
	}
	meta = []byte(strings.Replace(string(meta), `"`+cur+`"`, `"`+name+`"`, 1))
	if err := os.WriteFile(metaPath, meta, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(vdir, "model.json"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tmp := filepath.Join(dir, ".latest.chaos")
	if err := os.Symlink(name, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, modelstore.LatestLink)); err != nil {
		t.Fatal(err)
	}
	return name
}
