package chaos

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
)

// TestProcessFaultChecksFail shows that the process faults report failure
// when the fault cannot happen: a kill or a stop of a process that has
// already ended, and a process that ended by another signal than the one
// the scenario meant.
func TestProcessFaultChecksFail(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	start := func(name string, args ...string) *proc { return startProc(t, dir, name, sleep, args, nil) }

	t.Run("kill_confirmed", func(t *testing.T) {
		p := start("victim", "600")
		status, err := p.killWith(syscall.SIGKILL, time.Minute)
		if err != nil || !strings.Contains(status, "killed") {
			t.Fatalf("SIGKILL of a running process: status %q, err %v", status, err)
		}
		if _, err := p.killWith(syscall.SIGKILL, time.Minute); err == nil || !strings.Contains(err.Error(), "already ended") {
			t.Errorf("second SIGKILL of an ended process: err %v, want \"already ended\"", err)
		}
	})
	t.Run("kill_of_exited_process", func(t *testing.T) {
		p := start("gone", "0")
		if !p.waitExit(time.Minute) {
			t.Fatal("sleep 0 did not end")
		}
		if _, err := p.killWith(syscall.SIGKILL, time.Minute); err == nil {
			t.Error("killWith on a process that exited by itself reported success")
		}
		if _, err := diedBy(p.State(), syscall.SIGKILL); err == nil {
			t.Error("diedBy(SIGKILL) accepted a process that exited with status 0")
		}
	})
	t.Run("wrong_signal", func(t *testing.T) {
		p := start("termed", "600")
		if _, err := p.killWith(syscall.SIGTERM, time.Minute); err != nil {
			t.Fatalf("SIGTERM: %v", err)
		}
		if _, err := diedBy(p.State(), syscall.SIGKILL); err == nil {
			t.Error("diedBy(SIGKILL) accepted a process ended by SIGTERM")
		}
	})
	t.Run("pause", func(t *testing.T) {
		p := start("paused", "600")
		var during byte
		if err := p.pause(func() error { var err error; during, err = procState(p.Pid()); return err }); err != nil {
			t.Fatalf("pause of a running process: %v", err)
		}
		if during != 'T' {
			t.Errorf("state while paused %q, want T", during)
		}
		if s, err := procState(p.Pid()); err != nil || s == 'T' {
			t.Errorf("state after pause %q (%v), want running", s, err)
		}
		p.kill()
		if err := p.pause(func() error { return nil }); err == nil {
			t.Error("pause of an ended process reported success")
		}
	})
}

// TestFaultChecksFailWithoutFault runs traffic through a healthy system and
// shows that every scenario's bite check reports failure when its fault did
// not happen, and that the stored-integrity check fails when a verdict is
// deleted from the stream or stored twice.
func TestFaultChecksFailWithoutFault(t *testing.T) {
	skipUnlessChaos(t)
	s := newSystem(t, singleNode, 1)
	ctx := withTimeout(t, 5*time.Minute)
	nc, err := connect(s.url, "faultcheck-traffic")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tr := newTraffic(300, 300, 0)
	if err := tr.run(ctx, nc, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := quiesce(ctx, s.js, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) counts {
		t.Helper()
		c, err := verifyStored(ctx, s.js, tr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := check(t); c.err() != nil || c.Integrity.Verdicts != int64(tr.n) {
		t.Fatalf("healthy run: %v (%s)", c.err(), c)
	}

	noFault := []struct {
		name string
		bit  func() error
	}{
		{"redelivered", func() error { return redelivered(ctx, s.js, &evidence{}) }},
		{"reconnected", func() error { return reconnected(s.workers, &evidence{}) }},
		{"worker_refusals", func() error {
			return workerRefusals(s.workers, &evidence{}, "publish_error", "puback_error", "dlq_error")
		}},
		{"model_refused", func() error { return modelRefused(s.workers[0], &evidence{}) }},
		{"challenger_refused", func() error {
			tl := &trial{champion: testenv.BundledVersion(t), good: olderVersion, tampered: tamperedVersion, failsBefore: map[string]float64{}}
			return s.challengerBit(ctx, tr, tl, &evidence{})
		}},
		{"leader_change", func() error {
			leaderOf := func() string { return streamLeader(s.url, streamTx) }
			_, err := leaderChange(leaderOf, leaderOf(), 2*time.Second)
			return err
		}},
		{"velocity_degraded", func() error {
			return s.velocityDegraded(ctx, &evidence{}, time.Now().Add(-time.Minute), time.Now(), true, "")
		}},
		{"outage_probe_on_intact_stream", func() error {
			st, err := s.js.Stream(ctx, streamVerdicts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = probeRefusals(ctx, s.js, st, contracts.SubjectVerdictsPrefix+"chaos-probe", time.Second)
			return err
		}},
	}
	for _, nf := range noFault {
		t.Run("no_fault_"+nf.name, func(t *testing.T) {
			err := nf.bit()
			if err == nil {
				t.Fatal("reported that a fault bit, but none was injected")
			}
			t.Logf("failed as it must: %v", err)
		})
	}

	verdicts, err := s.js.Stream(ctx, streamVerdicts)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("verdict_missing", func(t *testing.T) {
		m, err := verdicts.GetMsg(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := verdicts.DeleteMsg(ctx, 1); err != nil {
			t.Fatal(err)
		}
		c := check(t)
		if c.err() == nil || c.Integrity.Missing != 1 || c.Integrity.Samples["missing"][0] != m.Header.Get(contracts.HeaderMsgID) {
			t.Fatalf("verdict %s deleted: %v (%s)", m.Header.Get(contracts.HeaderMsgID), c.err(), c)
		}
		t.Logf("failed as it must: %v", c.err())
	})
	t.Run("verdict_doubled", func(t *testing.T) {
		m, err := verdicts.GetMsg(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		// Stored again under another Msg-Id, as a publish that escaped
		// de-duplication would be.
		again := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{contracts.HeaderMsgID: []string{m.Header.Get(contracts.HeaderMsgID) + "-again"}}}
		if _, err := s.js.PublishMsg(ctx, again); err != nil {
			t.Fatal(err)
		}
		c := check(t)
		if c.err() == nil || c.Integrity.DuplicateVerdicts != 1 {
			t.Fatalf("verdict stored twice: %v (%s)", c.err(), c)
		}
		t.Logf("failed as it must: %v", c.err())
	})
}
