package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/worker/streamread"
)

// velocityWarning is the worker's log message when it scores an event
// without the velocity aggregates it could not compute (scorer/velocity).
const velocityWarning = "velocity unavailable"

// velocityKVOutage is TestChaos/j_velocity_kv_outage: two workers with
// FRAUDSCORE_VELOCITY=kv and the verdicts' features on; a third of the
// way through the traffic the bucket's stream (KV_VELOCITY) is deleted
// through the JetStream API, probed unavailable for 3 s, and created
// again with its configuration (its state lost, as with a lost bucket).
// The fault bit when the workers counted degraded events, logged the
// warning, stored verdicts with card_txn_count_1h null during the outage
// (the traffic is raw: no event carries upstream aggregates) and NAKed nothing;
// then the suite's exactly-once check.
func velocityKVOutage(t *testing.T, rep *chaosReport, sz size) {
	s := newSystem(t, false, 2, "FRAUDSCORE_VELOCITY=kv", "FRAUDSCORE_VERDICT_FEATURES=true")
	var from, until time.Time
	s.run(rep, "j_velocity_kv_outage", sz, 0, fault{
		traffic: func(tr *traffic) { tr.raw = true },
		inject: func(ctx context.Context, ev *evidence) error {
			var err error
			from, until, err = kvOutage(ctx, s.js, velBucket, 3*time.Second, ev)
			return err
		},
		bit: func(ctx context.Context, _ counts, ev *evidence) error {
			return s.velocityDegraded(ctx, ev, from, until, true, "")
		},
	})
	s.logStats("j_velocity_kv_outage")
}

// velocityKVSlow is TestChaos/k_velocity_kv_slow: a three-node cluster
// with every stream and the bucket on three replicas; a third of the way
// through the traffic the node leading KV_VELOCITY (moved off the nodes
// leading TRANSACTIONS and its consumer, so that deliveries go on) is
// SIGSTOPped for 3 s: the bucket's requests wait on a frozen leader, past
// FRAUDSCORE_VELOCITY_TIMEOUT. The fault bit when the workers counted
// events degraded by the timeout and stored verdicts without velocity
// while it was frozen (the traffic is raw, so a degraded event's verdict
// has null velocity, whatever upstream might have sent); then the
// exactly-once check.
func velocityKVSlow(t *testing.T, rep *chaosReport, sz size) {
	s := newSystem(t, true, 2, "FRAUDSCORE_STREAM_REPLICAS=3", "FRAUDSCORE_VERDICT_MAX_BYTES=1073741824",
		"FRAUDSCORE_VELOCITY=kv", "FRAUDSCORE_VERDICT_FEATURES=true")
	var from, until time.Time
	s.run(rep, "k_velocity_kv_slow", sz, 0, fault{
		traffic: func(tr *traffic) { tr.raw = true },
		inject: func(ctx context.Context, ev *evidence) error {
			victim, err := s.kvLeaderApart(ctx, ev)
			if err != nil {
				return err
			}
			from = time.Now()
			err = victim.p.pause(func() error {
				ev.injected("SIGSTOP %s (pid %d), leader of KV_%s, for 3s", victim.name, victim.p.Pid(), velBucket)
				time.Sleep(3 * time.Second) // the fault's length, not a synchronisation
				return nil
			})
			until = time.Now()
			if err == nil {
				ev.injected("SIGCONT %s", victim.name)
			}
			return err
		},
		bit: func(ctx context.Context, _ counts, ev *evidence) error {
			return s.velocityDegraded(ctx, ev, from, until, false, `reason="timeout"`)
		},
	})
	s.logStats("k_velocity_kv_slow")
}

// kvLeaderApart returns the node leading the bucket's stream after moving
// that leadership (leader step-downs, at most 12) off the nodes that lead
// TRANSACTIONS, its consumer and VERDICTS (when those three are led by
// three nodes, VERDICTS' leader steps down first).
func (s *system) kvLeaderApart(ctx context.Context, ev *evidence) (*natsNode, error) {
	kvStream := "KV_" + velBucket
	for range 12 {
		kvLeader := streamLeader(s.url, kvStream)
		busy := map[string]bool{streamLeader(s.url, streamTx): true, consumerLeader(s.url): true}
		vLeader := streamLeader(s.url, streamVerdicts)
		move := kvStream
		if busy[""] || vLeader == "" || kvLeader == "" {
			// A leader is being elected: look again once all are known.
			if !waitUntil(30*time.Second, func() bool {
				return streamLeader(s.url, kvStream) != "" && streamLeader(s.url, streamTx) != "" &&
					consumerLeader(s.url) != "" && streamLeader(s.url, streamVerdicts) != ""
			}) {
				return nil, errors.New("no leader known for KV, TRANSACTIONS, its consumer or VERDICTS within 30s")
			}
			continue
		}
		if !busy[vLeader] && len(busy) == 2 {
			move = streamVerdicts // three nodes busy: free one
		}
		busy[vLeader] = true
		if move == kvStream && !busy[kvLeader] {
			for _, n := range s.nodes {
				if n.name == kvLeader {
					ev.injected("%s leads %s; TRANSACTIONS, consumer %s and VERDICTS are led elsewhere", kvLeader, kvStream, consumerName)
					return n, nil
				}
			}
		}
		old := streamLeader(s.url, move)
		if err := stepDown(ctx, s.js, move); err != nil {
			return nil, err
		}
		if _, err := leaderChange(func() string { return streamLeader(s.url, move) }, old, 30*time.Second); err != nil {
			return nil, fmt.Errorf("%s step-down: %w", move, err)
		}
	}
	return nil, fmt.Errorf("%s could not be led apart from TRANSACTIONS, its consumer and VERDICTS in 12 step-downs", kvStream)
}

// stepDown asks a stream's leader to step down (JetStream API).
func stepDown(ctx context.Context, js jetstream.JetStream, stream string) error {
	nc := js.Conn()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil)
	if err != nil {
		return fmt.Errorf("%s step-down: %w", stream, err)
	}
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("%s step-down: %w", stream, err)
	}
	if !resp.Success {
		d := "no success"
		if resp.Error != nil {
			d = resp.Error.Description
		}
		return fmt.Errorf("%s step-down: %s", stream, d)
	}
	return nil
}

// consumerLeader returns the server leading the work consumer ("" when
// unknown).
func consumerLeader(url string) string {
	return raftLeader(url, func(ctx context.Context, js jetstream.JetStream) (*jetstream.ClusterInfo, error) {
		c, err := js.Consumer(ctx, streamTx, consumerName)
		if err != nil {
			return nil, err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil, err
		}
		return info.Cluster, nil
	})
}

// kvOutage deletes the stream of a KV bucket, probes for d that the bucket
// does not answer (a Get of a key every 200 ms must fail, and not as "key
// not found"), creates the stream again with the configuration it had,
// and checks that the bucket answers again. It returns when the outage
// began and ended.
func kvOutage(ctx context.Context, js jetstream.JetStream, bucket string, d time.Duration, ev *evidence) (from, until time.Time, err error) {
	octx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	name := "KV_" + bucket
	kv, err := js.KeyValue(octx, bucket)
	if err != nil {
		return from, until, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	st, err := js.Stream(octx, name)
	if err != nil {
		return from, until, fmt.Errorf("stream %s: %w", name, err)
	}
	info, err := st.Info(octx)
	if err != nil {
		return from, until, fmt.Errorf("stream %s info: %w", name, err)
	}
	from = time.Now()
	if err := js.DeleteStream(octx, name); err != nil {
		return from, until, fmt.Errorf("delete %s: %w", name, err)
	}
	refused, answered := 0, 0
	var other error
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		pctx, cancel := context.WithTimeout(octx, time.Second)
		_, err := kv.Get(pctx, "c.chaos-probe")
		cancel()
		switch {
		case err == nil, errors.Is(err, jetstream.ErrKeyNotFound):
			answered++
		default:
			refused++
			other = err
		}
	}
	_, cerr := js.CreateStream(octx, info.Config)
	until = time.Now()
	if cerr != nil {
		return from, until, fmt.Errorf("create %s again: %w", name, cerr)
	}
	ev.RefusedProbes = refused
	ev.injected("stream %s of bucket %s deleted for %s (%d messages, %d keys' state lost); %d probe reads refused (last: %v), %d answered; created again with its configuration",
		name, bucket, until.Sub(from).Round(time.Millisecond), info.State.Msgs, info.State.NumSubjects, refused, other, answered)
	if refused == 0 || answered > 0 {
		return from, until, fmt.Errorf("bucket %s during the outage: %d reads refused, %d answered", bucket, refused, answered)
	}
	var lastErr error
	if !waitUntil(30*time.Second, func() bool {
		_, lastErr = kv.Get(octx, "c.chaos-probe")
		return errors.Is(lastErr, jetstream.ErrKeyNotFound)
	}) {
		return from, until, fmt.Errorf("bucket %s does not answer after its stream was created again: %v", bucket, lastErr)
	}
	return from, until, nil
}

// velocityDegraded is the bite of a velocity store fault: the workers
// counted degraded events (with label among the reasons, when not ""),
// logged the warning, and stored verdicts whose card_txn_count_1h is null
// while the fault lasted (from..until, plus the timeout and a publish's
// time); and, as the ADR chose to degrade, no worker NAKed a message for
// enrichment or scoring (with noNaks, for no reason at all: the fault
// touched nothing but the bucket).
func (s *system) velocityDegraded(ctx context.Context, ev *evidence, from, until time.Time, noNaks bool, label string) error {
	var errs []error
	var degraded, nacked, nackedVelocity float64
	var warned []string
	for _, w := range s.workers {
		v, _ := w.metricWhere("fraudscore_velocity_degraded_total", label)
		degraded += v
		n, _ := w.metric("fraudscore_messages_nacked_total")
		nacked += n
		for _, r := range []string{"enrich_error", "score_error"} {
			n, _ := w.metricWhere("fraudscore_messages_nacked_total", `reason="`+r+`"`)
			nackedVelocity += n
		}
		if lines := w.p.grep(velocityWarning); len(lines) > 0 {
			warned = append(warned, fmt.Sprintf("%s (%d lines, first: %s)", w.id, len(lines), lines[0]))
		}
	}
	series := "fraudscore_velocity_degraded_total"
	if label != "" {
		series += "{" + label + "}"
	}
	if degraded == 0 {
		errs = append(errs, fmt.Errorf("%s = 0 on every worker", series))
	} else {
		ev.bit("workers counted %.0f degraded events (%s)", degraded, series)
	}
	if len(warned) == 0 {
		errs = append(errs, fmt.Errorf("no worker logged %q", velocityWarning))
	} else {
		ev.bit("logged %q: %s", velocityWarning, strings.Join(warned, "; "))
	}
	switch {
	case nackedVelocity > 0:
		errs = append(errs, fmt.Errorf("workers NAKed %.0f messages for enrichment or scoring (a velocity store fault must degrade, not NAK)", nackedVelocity))
	case noNaks && nacked > 0:
		errs = append(errs, fmt.Errorf("workers NAKed %.0f messages (the fault touched only the bucket)", nacked))
	case nacked > 0:
		var by []string
		for _, r := range []string{"publish_error", "puback_error"} {
			var n float64
			for _, w := range s.workers {
				v, _ := w.metricWhere("fraudscore_messages_nacked_total", `reason="`+r+`"`)
				n += v
			}
			by = append(by, fmt.Sprintf("%s %.0f", r, n))
		}
		ev.bit("workers NAKed %.0f messages (%s), none for enrichment or scoring", nacked, strings.Join(by, ", "))
	default:
		ev.bit("workers NAKed nothing")
	}
	during, outside, total, err := nullVelocityVerdicts(ctx, s.js, from, until.Add(2*time.Second))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if during == 0 {
		errs = append(errs, fmt.Errorf("no verdict stored between %s and %s has card_txn_count_1h null", from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano)))
	} else {
		ev.bit("%d verdicts stored during the fault have card_txn_count_1h null (%d at other times, %d verdicts in all)", during, outside, total)
	}
	return errors.Join(errs...)
}

// nullVelocityVerdicts reads VERDICTS and counts the verdicts whose
// card_txn_count_1h feature is null (or absent), stored between from and
// until and at other times.
func nullVelocityVerdicts(ctx context.Context, js jetstream.JetStream, from, until time.Time) (during, outside, total int, err error) {
	st, err := js.Stream(ctx, streamVerdicts)
	if err != nil {
		return 0, 0, 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	err = streamread.Stored(ctx, st, jetstream.OrderedConsumerConfig{}, info.State.LastSeq, func(m jetstream.Msg, md *jetstream.MsgMetadata) error {
		var v struct {
			Features contracts.FeatureValues `json:"features"`
		}
		if err := json.Unmarshal(m.Data(), &v); err != nil {
			return fmt.Errorf("verdict %d: %w", md.Sequence.Stream, err)
		}
		total++
		if f, ok := v.Features.Get(features.CardTxnCount1h); ok && !math.IsNaN(f) {
			return nil
		}
		if md.Timestamp.Before(from) || md.Timestamp.After(until) {
			outside++
		} else {
			during++
		}
		return nil
	})
	return during, outside, total, err
}
