package chaos

import (
	"context"
	"errors"
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

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/loadtest/bench"
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
	js      jetstream.JetStream // the suite's own connection, for checks and faults
}

// topology is the NATS servers a scenario runs on.
type topology int

const (
	// singleNode is one server.
	singleNode topology = iota
	// cluster3 is a three-node cluster; every client (workers, traffic,
	// checks) may connect to any node.
	cluster3
	// cluster3Spare is a three-node cluster whose clients connect to the
	// first two nodes only: the third can be frozen without freezing a
	// client's own connection (see velocityKVSlow).
	cluster3Spare
)

// newSystem starts the servers of topo and n workers that share the
// consumer; the model store is a temporary copy of models/.
func newSystem(t *testing.T, topo topology, n int, extraEnv ...string) *system {
	t.Helper()
	s := &system{t: t, logDir: t.TempDir(), models: copyModels(t)}
	switch topo {
	case singleNode:
		s.nodes = []*natsNode{startSingle(t, s.logDir)}
		s.url = s.nodes[0].url()
	default:
		s.nodes = startCluster(t, s.logDir)
		s.url = urls(s.nodes)
		waitJetStream(t, s.url)
		if topo == cluster3Spare {
			s.url = urls(s.nodes[:2])
		}
	}
	_, s.js = connectJS(t, s.url, "chaos-check")
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

// copyModels copies the bundled version into a temporary model store with
// its latest link.
func copyModels(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "models")
	v := testenv.BundledVersion(t)
	testenv.CopyBundled(t, dst, v)
	if err := os.Symlink(v, filepath.Join(dst, modelstore.LatestLink)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// run publishes sz transactions (every garbage-th one garbage, 0 for none),
// injects f once a third of them is sent, waits until the system is quiet,
// checks that f bit, and checks from the streams, by transaction id, that
// every transaction has exactly the one verdict or dead letter it must. A
// fault that could not be injected or did not bite fails the test. The
// scenario's result joins rep when the test ends.
func (s *system) run(rep *chaosReport, name string, sz size, garbage int, f fault) counts {
	t := s.t
	t.Helper()
	res := &scenarioResult{Name: name, Started: time.Now().UTC(), LoadAvgStart: bench.ReadLoadAvg()}
	t.Cleanup(func() {
		res.Passed = !t.Failed()
		res.Seconds = time.Since(res.Started).Seconds()
		res.LoadAvgEnd = bench.ReadLoadAvg()
		rep.add(*res)
	})
	ctx := withTimeout(t, 8*time.Minute)
	nc, err := connect(s.url, "chaos-traffic")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tr := newTraffic(sz.n, sz.rate, garbage)
	if f.traffic != nil {
		f.traffic(tr)
	}
	pubDone := make(chan error, 1)
	go func() { pubDone <- tr.run(ctx, nc, 90*time.Second) }()
	ev := &res.Evidence
	if f.inject != nil {
		if !waitUntil(5*time.Minute, func() bool { return tr.sent.Load() >= int64(sz.n/3) }) {
			t.Errorf("%s: fault not injected: only %d of %d transactions sent", name, tr.sent.Load(), sz.n)
		} else if err := f.inject(ctx, ev); err != nil {
			t.Errorf("%s: fault not injected: %v", name, err)
		}
	}
	if err := <-pubDone; err != nil {
		t.Errorf("%s: publish: %v", name, err)
	}
	if err := quiesce(ctx, s.js, 3*time.Minute); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	c, err := verifyStored(ctx, s.js, tr)
	if err != nil {
		t.Fatalf("%s: read streams: %v", name, err)
	}
	res.Counts = c
	if n, err := redeliveries(ctx, s.js); err == nil {
		ev.Redeliveries = n
	}
	if f.bit != nil {
		if err := f.bit(ctx, c, ev); err != nil {
			t.Errorf("%s: fault did not bite: %v", name, err)
		}
	}
	t.Logf("CHAOS %-22s %s", name, c)
	t.Logf("CHAOS %-22s fault: injected %q; bit %q", name, ev.Injected, ev.Bit)
	if err := c.err(); err != nil {
		res.IntegrityErr = err.Error()
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

// TestChaos runs every fault scenario against real processes. The bounded
// CI version runs in `go test ./...`; FRAUDSCORE_CHAOS=full runs larger
// volumes (make chaos). With FRAUDSCORE_CHAOS_REPORT=<dir> the results
// (per scenario: fault evidence, counts, integrity) are written there as
// JSON, with the commit, machine, date and load of the run, and as the
// markdown rendered from that JSON (see chaosReport).
func TestChaos(t *testing.T) {
	skipUnlessChaos(t)
	bins(t)
	rep := newChaosReport(t)
	small := volume(size{n: 2400, rate: 400}, size{n: 60000, rate: 2000})

	t.Run("a_sigkill_worker", func(t *testing.T) {
		s := newSystem(t, singleNode, 3)
		victim := s.workers[2]
		s.run(rep, "a_sigkill_worker", small, 0, fault{
			inject: func(ctx context.Context, ev *evidence) error {
				rcv, ok := victim.metric("fraudscore_messages_received_total")
				if !ok || rcv == 0 {
					return fmt.Errorf("%s received nothing before the fault", victim.id)
				}
				// Stopped first, so that what its pull requests receive
				// stays unacknowledged and goes down with it.
				return victim.p.pause(func() error {
					if err := awaitAckPending(ctx, s.js); err != nil {
						return err
					}
					status, err := victim.p.killWith(syscall.SIGKILL, 10*time.Second)
					ev.ExitStatus = status
					if err == nil {
						ev.injected("SIGKILL %s (pid %d, stopped, after it received %.0f messages): %s", victim.id, victim.p.Pid(), rcv, status)
					}
					return err
				})
			},
			bit: func(ctx context.Context, _ counts, ev *evidence) error { return redelivered(ctx, s.js, ev) },
		})
		s.logStats("a_sigkill_worker")
	})

	t.Run("b_sigstop_worker", func(t *testing.T) {
		s := newSystem(t, singleNode, 3)
		victim := s.workers[1]
		s.run(rep, "b_sigstop_worker", small, 0, fault{
			inject: func(ctx context.Context, ev *evidence) error {
				before, err := redeliveries(ctx, s.js)
				if err != nil {
					return err
				}
				// Held until the messages it took expire and are
				// redelivered to the others.
				err = victim.p.pause(func() error {
					if !waitUntil(time.Minute, func() bool { n, err := redeliveries(ctx, s.js); return err == nil && n > before }) {
						return fmt.Errorf("no redelivery within a minute of stopping %s", victim.id)
					}
					return nil
				})
				if err == nil {
					ev.injected("SIGSTOP %s (pid %d) until the consumer redelivered what it held; SIGCONT", victim.id, victim.p.Pid())
				}
				return err
			},
			bit: func(ctx context.Context, _ counts, ev *evidence) error { return redelivered(ctx, s.js, ev) },
		})
		s.logStats("b_sigstop_worker")
		for _, w := range s.workers {
			if code, body := w.probe("/readyz"); code != http.StatusOK {
				t.Errorf("%s not ready after the scenario: %d %s", w.id, code, body)
			}
		}
	})

	t.Run("c_restart_server", func(t *testing.T) {
		s := newSystem(t, singleNode, 2)
		node := s.nodes[0]
		s.run(rep, "c_restart_server", small, 0, fault{
			inject: func(_ context.Context, ev *evidence) error {
				pid := node.p.Pid()
				status, err := node.p.killWith(syscall.SIGKILL, 10*time.Second)
				ev.ExitStatus = status
				if err != nil {
					return err
				}
				node.start()
				ev.injected("SIGKILL natsserver (pid %d): %s; restarted as pid %d on port %d with store %s", pid, status, node.p.Pid(), node.port, node.dir)
				return nil
			},
			bit: func(_ context.Context, _ counts, ev *evidence) error { return reconnected(s.workers, ev) },
		})
		s.logStats("c_restart_server")
		for _, w := range s.workers {
			if !waitUntil(30*time.Second, func() bool { code, _ := w.probe("/readyz"); return code == http.StatusOK }) {
				code, body := w.probe("/readyz")
				t.Errorf("%s not ready after the restart: %d %s", w.id, code, body)
			}
		}
	})

	t.Run("d_cluster_leader_loss", func(t *testing.T) {
		// VERDICTS reserves its MaxBytes on each replica: 1 GiB fits the nodes' 2 GiB store limit.
		s := newSystem(t, cluster3, 2, "FRAUDSCORE_STREAM_REPLICAS=3", "FRAUDSCORE_VERDICT_MAX_BYTES=1073741824")
		sz := volume(size{n: 2000, rate: 200}, size{n: 30000, rate: 1000})
		leaderOf := func() string { return streamLeader(s.url, streamTx) }
		s.run(rep, "d_cluster_leader_loss", sz, 0, fault{
			inject: func(_ context.Context, ev *evidence) error {
				ev.LeaderBefore = leaderOf()
				var victim *natsNode
				for _, n := range s.nodes {
					if n.name == ev.LeaderBefore {
						victim = n
					}
				}
				if victim == nil {
					return fmt.Errorf("leader of %s %q is none of the nodes", streamTx, ev.LeaderBefore)
				}
				status, err := victim.p.killWith(syscall.SIGKILL, 10*time.Second)
				ev.ExitStatus = status
				if err != nil {
					return err
				}
				ev.injected("SIGKILL %s (pid %d), leader of %s: %s", victim.name, victim.p.Pid(), streamTx, status)
				ev.LeaderAfter, err = leaderChange(leaderOf, ev.LeaderBefore, time.Minute)
				return err
			},
			bit: func(_ context.Context, _ counts, ev *evidence) error {
				if ev.LeaderAfter == "" || ev.LeaderAfter == ev.LeaderBefore {
					return fmt.Errorf("leader of %s: %q before, %q after", streamTx, ev.LeaderBefore, ev.LeaderAfter)
				}
				ev.bit("leader of %s moved from %s to %s", streamTx, ev.LeaderBefore, ev.LeaderAfter)
				return nil
			},
		})
		s.logStats("d_cluster_leader_loss")
	})

	t.Run("e_garbage_flood", func(t *testing.T) {
		s := newSystem(t, singleNode, 2)
		s.run(rep, "e_garbage_flood", small, 10, fault{
			// The fault is in the traffic: every tenth message is garbage.
			bit: func(_ context.Context, c counts, ev *evidence) error {
				ev.injected("%d garbage messages among %d", c.Garbage, c.Published)
				if c.Garbage == 0 || c.Garbage*10 < c.Published-10 {
					return fmt.Errorf("garbage share: %d of %d", c.Garbage, c.Published)
				}
				var errs []error
				for reason, n := range c.Integrity.DeadLetterReasons {
					if reason != "malformed" && reason != "invalid" {
						errs = append(errs, fmt.Errorf("%d dead letters with reason %q", n, reason))
					}
				}
				if c.Integrity.DeadLetters == 0 {
					errs = append(errs, errors.New("no dead letter stored"))
				}
				ev.bit("%d dead letters stored %v", c.Integrity.DeadLetters, c.Integrity.DeadLetterReasons)
				return errors.Join(errs...)
			},
		})
		s.logStats("e_garbage_flood")
	})

	t.Run("f_tampered_model", func(t *testing.T) {
		s := newSystem(t, singleNode, 2)
		restarted := s.workers[1]
		s.run(rep, "f_tampered_model", small, 0, fault{
			inject: func(_ context.Context, ev *evidence) error {
				tampered := tamperLatest(t, s.models)
				if _, err := modelstore.Open(s.models).Load(tampered); err == nil {
					return fmt.Errorf("the store accepts the tampered version %s", tampered)
				} else {
					ev.injected("models/latest -> %s, which the store refuses: %v", tampered, err)
				}
				if err := restarted.p.stop(20 * time.Second); err != nil {
					return fmt.Errorf("stop %s: %w", restarted.id, err)
				}
				restarted.start(false)
				ev.injected("%s restarted (pid %d)", restarted.id, restarted.p.Pid())
				var code int
				var body string
				if !waitUntil(time.Minute, func() bool {
					code, body = restarted.probe("/readyz")
					return code == http.StatusServiceUnavailable && strings.Contains(body, "sha256")
				}) {
					return fmt.Errorf("restarted worker /readyz: want 503 naming the sha256 mismatch, got %d %q", code, body)
				}
				return nil
			},
			bit: func(_ context.Context, _ counts, ev *evidence) error { return modelRefused(restarted, ev) },
		})
		s.logStats("f_tampered_model")
		if code, body := s.workers[0].probe("/readyz"); code != http.StatusOK {
			t.Errorf("%s (kept its model) not ready: %d %s", s.workers[0].id, code, body)
		}
	})

	t.Run("g_verdict_store_refuses", func(t *testing.T) {
		s := newSystem(t, singleNode, 2)
		s.run(rep, "g_verdict_store_refuses", small, 0, fault{
			inject: func(ctx context.Context, ev *evidence) error {
				return outage(ctx, s.js, streamVerdicts, contracts.SubjectVerdictsPrefix+"chaos-probe", 3*time.Second, ev)
			},
			bit: func(_ context.Context, _ counts, ev *evidence) error {
				return workerRefusals(s.workers, ev, "publish_error", "puback_error")
			},
		})
		s.logStats("g_verdict_store_refuses")
	})

	t.Run("h_dlq_unavailable", func(t *testing.T) {
		s := newSystem(t, singleNode, 2)
		s.run(rep, "h_dlq_unavailable", small, 10, fault{
			inject: func(ctx context.Context, ev *evidence) error {
				return outage(ctx, s.js, streamDLQ, contracts.SubjectDeadLettersPrefix+"chaos-probe", 3*time.Second, ev)
			},
			bit: func(_ context.Context, _ counts, ev *evidence) error {
				return workerRefusals(s.workers, ev, "dlq_error")
			},
		})
		s.logStats("h_dlq_unavailable")
	})

	t.Run("i_challenger_refused", func(t *testing.T) {
		s := newSystem(t, singleNode, 2)
		champion := testenv.BundledVersion(t)
		if champion == olderVersion {
			t.Fatalf("the bundled version is %s: no older version to try as challenger", champion)
		}
		copyVersion(t, s.models, olderVersion, olderVersion)
		tl := &trial{champion: champion, good: olderVersion, tampered: tamperedVersion, failsBefore: map[string]float64{}}
		var tr *traffic
		var hold1, hold2 func()
		s.run(rep, "i_challenger_refused", small, 0, fault{
			// Held at a half until both workers refused the tampered
			// challenger, at three quarters until both serve the good
			// one: traffic runs in each phase whatever the machine's speed.
			traffic: func(x *traffic) {
				tr = x
				hold1, hold2 = tr.holdAt(tr.n/2), tr.holdAt(tr.n*3/4)
			},
			inject: func(ctx context.Context, ev *evidence) error {
				return s.injectChallenger(ctx, tr, tl, hold1, hold2, ev)
			},
			bit: func(ctx context.Context, _ counts, ev *evidence) error { return s.challengerBit(ctx, tr, tl, ev) },
		})
		s.logStats("i_challenger_refused")
	})

	t.Run("j_velocity_kv_outage", func(t *testing.T) { velocityKVOutage(t, rep, small) })
	t.Run("k_velocity_kv_slow", func(t *testing.T) {
		velocityKVSlow(t, rep, volume(size{n: 2000, rate: 200}, size{n: 30000, rate: 1000}))
	})
}

// awaitAckPending waits until the work consumer has had messages delivered
// and not acknowledged at five polls in a row (the healthy workers ack
// within milliseconds, so what stays pending is most likely a stopped
// worker's), at most a minute.
func awaitAckPending(ctx context.Context, js jetstream.JetStream) error {
	var last error
	inRow := 0
	if waitUntil(time.Minute, func() bool {
		c, err := js.Consumer(ctx, streamTx, consumerName)
		if err != nil {
			last = err
			return false
		}
		info, err := c.Info(ctx)
		if err != nil {
			last = err
			return false
		}
		if info.NumAckPending == 0 {
			inRow = 0
			return false
		}
		inRow++
		return inRow >= 5
	}) {
		return nil
	}
	return fmt.Errorf("consumer %s had nothing unacknowledged within a minute (%v)", consumerName, last)
}

// streamLeader returns the server name leading a stream's raft group ("" when
// unknown).
func streamLeader(url, stream string) string {
	return raftLeader(url, func(ctx context.Context, js jetstream.JetStream) (*jetstream.ClusterInfo, error) {
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return nil, err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return nil, err
		}
		return info.Cluster, nil
	})
}

// raftLeader asks the server at url (within 3 s) for a raft group's cluster
// information through lookup and returns its leader ("" when unknown).
func raftLeader(url string, lookup func(context.Context, jetstream.JetStream) (*jetstream.ClusterInfo, error)) string {
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
	ci, err := lookup(ctx, js)
	if err != nil || ci == nil {
		return ""
	}
	return ci.Leader
}

// tamperLatest copies the bundled version to a newer one whose model file no
// longer matches the sha256 in its metadata, and points latest at it
// atomically (as a bad deploy or a corrupted volume would).
func tamperLatest(t *testing.T, dir string) string {
	t.Helper()
	name := "v20991231_235959"
	tamper(t, testenv.CopyBundled(t, dir, name))
	testenv.MoveLink(t, dir, modelstore.LatestLink, name)
	return name
}

// tamper changes the model file of the version directory vdir after its
// sha256 was recorded in the metadata (one byte appended), so that the
// store refuses the version.
func tamper(t *testing.T, vdir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(vdir, "model.json"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
