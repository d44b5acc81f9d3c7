package chaos

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/loadtest"
	"github.com/fraudscore/fraudscore/loadtest/bench"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/velocity"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/streamread"
)

// The velocity correctness test (issue 13): two workers computing velocity
// in the JetStream KV bucket, raw events published out of event-time order,
// duplicates the input stream cannot catch, a worker SIGKILLed with
// messages in flight; then what was stored (VERDICTS and the bucket) is
// checked, transaction by transaction, against a brute-force recomputation
// from the event log written here, independently of scorer/velocity's
// apply code.
const (
	velCards   = 300
	velDevices = 100
	// velLateness is the workers' FRAUDSCORE_VELOCITY_LATENESS (the
	// default, set explicitly so that the test and the workers agree).
	velLateness = 5 * time.Minute
	// velDisorder bounds the shuffle: an event is published after every
	// event whose time is more than velDisorder before its own... and
	// before every event more than velDisorder after it (the publish order
	// is the event time plus a jitter in [0, velDisorder)).
	velDisorder = time.Minute
	// velDensity is events per minute of event time inside a segment: with
	// the backlog bounded (velMaxBacklog) and small pull batches, how far
	// processing runs ahead of publishing (a few hundred messages) is well
	// under a minute of event time, so disorder plus processing skew stays
	// inside velLateness.
	velDensity    = 400
	velMaxBacklog = 200
	// velBatch is the workers' FRAUDSCORE_BATCH_SIZE: messages a worker
	// buffers ahead, which bounds what one worker holds back from the other.
	velBatch = 64
	// velDupPercent of the transactions are published a second time, with
	// another Nats-Msg-Id, 1 to 40 messages later.
	velDupPercent = 2
	velBucket     = "VELOCITY"
	velWindow1h   = time.Hour
	velWindow24h  = 24 * time.Hour
)

// velSegments are the offsets of the bursts of traffic from the run's base
// time: between two bursts the publisher waits until every transaction
// published is processed (a gap in event time longer than the lateness
// must not be crossed by processing order), and the bucket is read. The
// offsets put window edges inside bursts: 1 h after 0 and 1.5 h, 24 h after
// 0 and 1 h and 2.5 h, 24 h after 26.5 h (set from the burst length, the
// last also prunes everything before about 26 h).
func velSegments(burst time.Duration) []time.Duration {
	return []time.Duration{0, time.Hour, 90 * time.Minute, 150 * time.Minute, 24 * time.Hour, 25 * time.Hour,
		26*time.Hour + 30*time.Minute, 50*time.Hour + 30*time.Minute + burst/2}
}

// velTxn is one transaction of the event log.
type velTxn struct {
	ev  contracts.TransactionEvent
	seg int
	// order is the publish order key: event time plus a jitter.
	order time.Duration
	// ordCard, ordDevice are the ordinals the stored state gave the
	// transaction in its card's and its device's state (0: not seen yet).
	ordCard, ordDevice uint64
	hash               uint64
}

// velMsg is one message to publish: a transaction, or its duplicate.
type velMsg struct {
	txn *velTxn
	dup bool
}

// velLog is the generated traffic: every transaction, the publish order by
// segment, the card tokens and device ids.
type velLog struct {
	prefix string
	base   time.Time
	txns   []*velTxn
	byID   map[string]*velTxn
	// byCard and byDevice are each key's transactions in log order.
	byCard, byDevice map[string][]*velTxn
	segs             [][]velMsg
	cards            []string
	devices          []string
	dups             int
}

// newVelLog builds n transactions over velCards cards and velDevices
// devices: raw events (no aggregates), valid per the contract, some
// without device, each card paying in two or three currencies (one with 0
// and one with 3 decimals), times quantized to the second (ties happen),
// published in the order of time plus jitter, velDupPercent of them twice.
func newVelLog(t testing.TB, n int, seed uint64) *velLog {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	segPer := n / 8
	burst := time.Duration(float64(segPer) / velDensity * float64(time.Minute))
	offsets := velSegments(burst)
	l := &velLog{
		prefix: "vel-" + loadtest.NewRunID(time.Now()) + "-",
		// Far enough in the past that the last burst is not in the future.
		base: time.Now().UTC().Add(-offsets[len(offsets)-1] - burst - 2*time.Hour).Truncate(time.Hour),
		byID: map[string]*velTxn{}, byCard: map[string][]*velTxn{}, byDevice: map[string][]*velTxn{},
		segs: make([][]velMsg, len(offsets)),
	}
	type cardProfile struct {
		currencies [3]string
		devices    []int
	}
	primaries := []string{"EUR", "USD", "GBP"}
	others := []string{"JPY", "KWD", "CHF", "SEK"}
	profiles := make([]cardProfile, velCards)
	for c := range velCards {
		l.cards = append(l.cards, fmt.Sprintf("vel-card-%03d", c))
		p := &profiles[c]
		p.currencies[0] = primaries[r.IntN(len(primaries))]
		p.currencies[1] = others[r.IntN(len(others))]
		p.currencies[2] = others[r.IntN(len(others))]
		// One to four devices per card, far below MaxDevicesPerCard (32):
		// the device memory never evicts in this test.
		for range 1 + r.IntN(4) {
			p.devices = append(p.devices, r.IntN(velDevices))
		}
	}
	for d := range velDevices {
		l.devices = append(l.devices, fmt.Sprintf("vel-device-%03d", d))
	}
	v := contracts.NewValidator()
	id := 0
	for s, off := range offsets {
		count := segPer
		if s == len(offsets)-1 {
			count = n - segPer*(len(offsets)-1)
		}
		var seg []*velTxn
		for range count {
			id++
			c := r.IntN(velCards)
			p := profiles[c]
			cur := p.currencies[0]
			switch x := r.IntN(10); {
			case x == 9:
				cur = p.currencies[2]
			case x >= 7:
				cur = p.currencies[1]
			}
			at := l.base.Add(off + time.Duration(r.Int64N(int64(burst/time.Second)+1))*time.Second)
			x := &velTxn{seg: s, ev: contracts.TransactionEvent{
				SchemaVersion:   contracts.TransactionEventSchemaV1,
				TransactionID:   l.prefix + strconv.Itoa(id),
				EventTime:       at,
				CardToken:       l.cards[c],
				AmountMinor:     100 + r.Int64N(50_000),
				Currency:        cur,
				MerchantID:      fmt.Sprintf("m_%04d", r.IntN(2000)),
				MCC:             "5411",
				MerchantCountry: "DE",
				Channel:         contracts.ChannelECommerce,
				CardCountry:     "DE",
				AccountAgeDays:  int32(r.IntN(3000)),
			}}
			if r.IntN(100) >= 15 {
				x.ev.DeviceID = l.devices[p.devices[r.IntN(len(p.devices))]]
			}
			if err := v.ValidateEvent(&x.ev); err != nil {
				t.Fatalf("generated event %s is not valid: %v", x.ev.TransactionID, err)
			}
			x.order = at.Sub(l.base) + time.Duration(r.Int64N(int64(velDisorder)))
			x.hash = velocity.TxnHash(x.ev.TransactionID)
			l.txns = append(l.txns, x)
			l.byID[x.ev.TransactionID] = x
			l.byCard[x.ev.CardToken] = append(l.byCard[x.ev.CardToken], x)
			if x.ev.DeviceID != "" {
				l.byDevice[x.ev.DeviceID] = append(l.byDevice[x.ev.DeviceID], x)
			}
			seg = append(seg, x)
		}
		sort.SliceStable(seg, func(i, j int) bool { return seg[i].order < seg[j].order })
		msgs := make([]velMsg, 0, len(seg)+len(seg)*velDupPercent/100+1)
		for _, x := range seg {
			msgs = append(msgs, velMsg{txn: x})
		}
		// Duplicates go 1 to 40 messages after their original (some right
		// behind it, so the two workers may score both at once).
		for _, x := range seg {
			if r.IntN(100) >= velDupPercent {
				continue
			}
			i := 0
			for msgs[i].txn != x || msgs[i].dup {
				i++
			}
			at := min(len(msgs), i+1+r.IntN(40))
			msgs = append(msgs[:at], append([]velMsg{{txn: x, dup: true}}, msgs[at:]...)...)
			l.dups++
		}
		l.segs[s] = msgs
	}
	return l
}

// velStorage is the velocity bucket's storage for TestVelocityExact:
// FRAUDSCORE_CHAOS_VELOCITY_STORAGE (make chaos-velocity
// CHAOS_VELOCITY_STORAGE=memory), or the worker's default when unset;
// chosen reports whether the variable chose it, in which case the run's
// files are named after it (as make chaos-velocity names its log).
func velStorage() (storage string, chosen bool) {
	if s := os.Getenv("FRAUDSCORE_CHAOS_VELOCITY_STORAGE"); s != "" {
		return s, true
	}
	return worker.DefaultConfig().VelocityStorage, false
}

// velWorkerEnv is the workers' velocity configuration for the correctness
// test. The timeout is long: a loaded machine must not degrade an event
// (the test checks exact values, and that nothing degraded); AckWait is
// long enough that a healthy worker never has a message redelivered before
// it started on it (which could make it late: only the SIGKILL should
// cause redeliveries).
func velWorkerEnv() []string {
	storage, _ := velStorage()
	return []string{
		"FRAUDSCORE_VELOCITY=kv",
		"FRAUDSCORE_VELOCITY_STORAGE=" + storage,
		"FRAUDSCORE_VELOCITY_PREFER=computed",
		"FRAUDSCORE_VERDICT_FEATURES=true",
		"FRAUDSCORE_VELOCITY_LATENESS=" + velLateness.String(),
		"FRAUDSCORE_VELOCITY_TIMEOUT=10s",
		"FRAUDSCORE_BATCH_SIZE=" + strconv.Itoa(velBatch),
		"FRAUDSCORE_ACK_WAIT=5s",
		"FRAUDSCORE_BACKOFF=5s,5s",
	}
}

// velSize is the number of transactions: 20,000 with FRAUDSCORE_CHAOS=full
// (make chaos-velocity), else FRAUDSCORE_VELOCITY_TXNS or 4,000.
func velSize(t *testing.T) int {
	if full() {
		return 20000
	}
	if s := os.Getenv("FRAUDSCORE_VELOCITY_TXNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 800 {
			t.Fatalf("FRAUDSCORE_VELOCITY_TXNS=%q: want a number of at least 800", s)
		}
		return n
	}
	return 4000
}

// velocityResult is one TestVelocityExact run, written as JSON to
// FRAUDSCORE_CHAOS_REPORT (make chaos-velocity) as velocity-<date>-<volume>.json.
type velocityResult struct {
	Run        runInfo        `json:"run"`
	Volume     string         `json:"volume"`
	Storage    string         `json:"storage"` // the velocity bucket's (FRAUDSCORE_VELOCITY_STORAGE)
	Passed     bool           `json:"passed"`
	Seconds    float64        `json:"seconds"`
	LoadAvgEnd bench.LoadAvgs `json:"loadavg_end"`
	// Transactions distinct, in Bursts, Duplicates published a second time
	// with another Nats-Msg-Id: Messages published in all.
	Transactions int `json:"transactions"`
	Bursts       int `json:"bursts"`
	Duplicates   int `json:"duplicates"`
	Messages     int `json:"messages"`
	Cards        int `json:"cards"`
	Devices      int `json:"devices"`
	// Verdicts read back (one per transaction); FeatureMismatches among
	// their velocity features and the brute force's.
	Verdicts          int `json:"verdicts"`
	FeatureMismatches int `json:"feature_mismatches"`
	// StateReads: the bucket was read after each burst; StateEntries card
	// and device entries were checked in all.
	StateReads   int             `json:"state_reads"`
	StateEntries int             `json:"state_entries"`
	BruteForce   velFeatureStats `json:"brute_force"`
	Fault        evidence        `json:"fault"`
	// From the live workers' /metrics at the end (the killed process's
	// counters died with it).
	StateDuplicates float64 `json:"state_duplicates"`
	CASConflicts    float64 `json:"cas_conflicts"`
	Late            float64 `json:"late"`
	Degraded        float64 `json:"degraded"`
}

// TestVelocityExact is issue 13's correctness test; see the top of this
// file. FRAUDSCORE_CHAOS=full runs the 20,000 transactions of the issue
// (make chaos-velocity); go test ./... runs 4,000 with the same checks.
func TestVelocityExact(t *testing.T) {
	skipUnlessChaos(t)
	started := time.Now()
	storage, chosen := velStorage()
	res := &velocityResult{Run: newRunInfo(t), Volume: "ci", Storage: storage, Cards: velCards, Devices: velDevices}
	if full() {
		res.Volume = "full"
	}
	t.Logf("VELOCITY run: %s, bucket storage %s", res.Run, res.Storage)
	if dir := os.Getenv("FRAUDSCORE_CHAOS_REPORT"); dir != "" {
		name := "velocity-" + res.Run.Started.Format("2006-01-02") + "-" + res.Volume
		if chosen {
			name += "-" + res.Storage
		}
		path := filepath.Join(repoPath(t, dir), name+".json")
		t.Cleanup(func() {
			res.Passed = !t.Failed()
			if err := writeJSON(path, res); err != nil {
				t.Errorf("velocity report: %v", err)
				return
			}
			t.Logf("velocity results written to %s", path)
		})
	}
	log := newVelLog(t, velSize(t), uint64(started.UnixNano()))
	res.Transactions, res.Bursts, res.Duplicates = len(log.txns), len(log.segs), log.dups
	s := newSystem(t, singleNode, 2, velWorkerEnv()...)
	ctx := withTimeout(t, 25*time.Minute)
	kv, err := s.js.KeyValue(ctx, velBucket)
	if err != nil {
		t.Fatalf("velocity bucket %s (made by the workers): %v", velBucket, err)
	}
	nc, err := connect(s.url, "velocity-traffic")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pub, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(512))
	if err != nil {
		t.Fatal(err)
	}
	subject := contracts.SubjectTransactionsPrefix + "velocity"
	killAt := len(log.segs[1]) / 2 // half-way through the second burst
	ev := &res.Fault
	killed := false
	st := &velStateCheck{log: log, kv: kv}
	for si, msgs := range log.segs {
		for i := 0; i < len(msgs); i++ {
			if si == 1 && i >= killAt && !killed && (i-killAt)%100 == 0 {
				if err := pubWait(ctx, pub); err != nil {
					t.Fatal(err)
				}
				// The next velKillBlock messages are published while the
				// victim is stopped: its outstanding pull request takes
				// some of them (the server hands a consumer's messages to
				// its waiting pull requests in turn), so it holds them.
				block := msgs[i:min(i+velKillBlock, len(msgs))]
				err := s.velKill(ctx, ev, func() error {
					for _, m := range block {
						if err := publishVel(pub, subject, m); err != nil {
							return err
						}
						res.Messages++
					}
					return pubWait(ctx, pub)
				})
				i += len(block) - 1
				switch {
				case err == nil:
					killed = true
				case errors.Is(err, errNothingHeld) && i+100 < len(msgs):
					t.Logf("kill at message %d: %v; trying again 100 messages later", i, err)
				default:
					t.Fatalf("fault not injected: %v", err)
				}
				continue
			}
			m := msgs[i]
			if i%50 == 0 {
				if err := s.velBacklogBelow(ctx, velMaxBacklog); err != nil {
					t.Fatal(err)
				}
			}
			if err := publishVel(pub, subject, m); err != nil {
				t.Fatal(err)
			}
			res.Messages++
		}
		if err := pubWait(ctx, pub); err != nil {
			t.Fatal(err)
		}
		if err := quiesce(ctx, s.js, 3*time.Minute); err != nil {
			t.Fatalf("after burst %d: %v", si, err)
		}
		if err := st.snapshot(ctx, si); err != nil {
			t.Fatalf("velocity state after burst %d: %v", si, err)
		}
		res.StateReads++
	}
	res.StateEntries = st.entries
	if !killed {
		t.Fatal("fault not injected: no worker was killed")
	}
	// The fault bit: the consumer redelivered what the killed worker held.
	if err := redelivered(ctx, s.js, ev); err != nil {
		t.Errorf("fault did not bite: %v", err)
	}
	for _, line := range append(ev.Injected, ev.Bit...) {
		t.Logf("VELOCITY fault: %s", line)
	}
	vds, err := readVelVerdicts(ctx, s.js, log)
	if err != nil {
		t.Errorf("read VERDICTS: %v", err)
	}
	res.Verdicts = len(vds)
	var errs []error
	res.FeatureMismatches, errs, res.BruteForce = checkVelFeatures(log, vds)
	for _, err := range errs {
		t.Error(err)
	}
	for _, w := range s.workers {
		late, ok1 := w.metric("fraudscore_velocity_late_total")
		degraded, ok2 := w.metric("fraudscore_velocity_degraded_total")
		if !ok1 || !ok2 {
			t.Errorf("%s: no velocity metrics on /metrics", w.id)
		}
		dup, _ := w.metric("fraudscore_velocity_duplicates_total")
		conflicts, _ := w.metric("fraudscore_velocity_conflicts_total")
		res.Late += late
		res.Degraded += degraded
		res.StateDuplicates += dup
		res.CASConflicts += conflicts
	}
	if res.Late != 0 || res.Degraded != 0 {
		t.Errorf("fraudscore_velocity_late_total %v, fraudscore_velocity_degraded_total %v: want 0 (every event inside the lateness bound, the store available)",
			res.Late, res.Degraded)
	}
	res.Seconds = time.Since(started).Seconds()
	res.LoadAvgEnd = bench.ReadLoadAvg()
	t.Logf("VELOCITY %d transactions (%d bursts) + %d duplicates = %d messages over %d cards and %d devices; "+
		"%d verdicts checked, %d feature mismatches; state read %d times, %d entries checked; "+
		"the live workers' states saw %.0f duplicates and %.0f CAS conflicts; %.1fs, load average now %s",
		res.Transactions, res.Bursts, res.Duplicates, res.Messages, res.Cards, res.Devices, res.Verdicts, res.FeatureMismatches,
		res.StateReads, res.StateEntries, res.StateDuplicates, res.CASConflicts, res.Seconds, loads(res.LoadAvgEnd))
	t.Logf("VELOCITY %s", res.BruteForce)
	t.Logf("VELOCITY workers: %s", s.workerStats())
	if t.Failed() {
		s.dumpLogs()
	}
}

// errNothingHeld: the stopped worker held no message, so a kill would
// take nothing with it.
var errNothingHeld = errors.New("the stopped worker held no unacknowledged message")

// velKillBlock is how many messages velKill's publish sends while the
// victim is stopped: few, so that those redelivered are not overtaken by
// much later events (they would be late).
const velKillBlock = 16

// velKill stops the second worker, publishes (messages its outstanding
// pull request then partly takes), waits until the other worker has done
// everything else and the consumer still counts unacknowledged messages
// (the stopped worker's), SIGKILLs it, waits until the consumer
// redelivered them and the system is quiet, and restarts it. The publisher
// is held meanwhile, so the redelivered messages are not overtaken by much
// later events (they would be late).
func (s *system) velKill(ctx context.Context, ev *evidence, publish func() error) error {
	victim := s.workers[1]
	rcv, ok := victim.metric("fraudscore_messages_received_total")
	if !ok || rcv == 0 {
		return fmt.Errorf("%s received nothing before the fault", victim.id)
	}
	before, err := redeliveries(ctx, s.js)
	if err != nil {
		return err
	}
	var held int
	err = victim.p.pause(func() error {
		if err := publish(); err != nil {
			return err
		}
		held, err = heldByStopped(ctx, s.js)
		if err != nil {
			return err
		}
		status, err := victim.p.killWith(syscall.SIGKILL, 10*time.Second)
		ev.ExitStatus = status
		if err != nil {
			return err
		}
		ev.injected("SIGKILL %s (pid %d, stopped, after it received %.0f messages) holding %d unacknowledged messages: %s",
			victim.id, victim.p.Pid(), rcv, held, status)
		return nil
	})
	if err != nil {
		return err
	}
	if !waitUntil(time.Minute, func() bool { n, err := redeliveries(ctx, s.js); return err == nil && n > before }) {
		return fmt.Errorf("no redelivery within a minute of killing %s", victim.id)
	}
	if err := quiesce(ctx, s.js, 3*time.Minute); err != nil {
		return fmt.Errorf("after the kill: %w", err)
	}
	victim.start(true)
	ev.injected("%s restarted (pid %d) once the consumer had redelivered and the other worker had processed what it held", victim.id, victim.p.Pid())
	return nil
}

// heldByStopped waits until the work consumer has nothing left to deliver
// and the same non-zero number of unacknowledged messages at five polls in
// a row: with the publisher held and the healthy worker idle, those are
// the stopped worker's. It returns errNothingHeld when they drop to 0.
func heldByStopped(ctx context.Context, js jetstream.JetStream) (int, error) {
	var last int
	inRow := 0
	var lastErr error
	if !waitUntil(time.Minute, func() bool {
		c, err := js.Consumer(ctx, streamTx, consumerName)
		if err != nil {
			lastErr = err
			return false
		}
		info, err := c.Info(ctx)
		if err != nil {
			lastErr = err
			return false
		}
		if info.NumPending > 0 || info.NumAckPending != last {
			last, inRow = info.NumAckPending, 0
			return false
		}
		inRow++
		return inRow >= 5
	}) {
		return 0, fmt.Errorf("consumer %s not settled within a minute (last ack pending %d, %v)", consumerName, last, lastErr)
	}
	if last == 0 {
		return 0, errNothingHeld
	}
	return last, nil
}

// velBacklogBelow waits until the work consumer has fewer than max
// messages left to deliver.
func (s *system) velBacklogBelow(ctx context.Context, limit int) error {
	var pending uint64
	var lastErr error
	if waitUntil(3*time.Minute, func() bool {
		c, err := s.js.Consumer(ctx, streamTx, consumerName)
		if err != nil {
			lastErr = err
			return false
		}
		info, err := c.Info(ctx)
		if err != nil {
			lastErr = err
			return false
		}
		pending = info.NumPending
		return pending < uint64(limit)
	}) {
		return nil
	}
	return fmt.Errorf("backlog still %d after 3 minutes (%v)", pending, lastErr)
}

// publishVel publishes one message: the event with Nats-Msg-Id = its id,
// or for a duplicate another id, which the input stream does not catch.
func publishVel(js jetstream.JetStream, subject string, m velMsg) error {
	data, err := json.Marshal(&m.txn.ev)
	if err != nil {
		return err
	}
	msgID := m.txn.ev.TransactionID
	if m.dup {
		msgID += "-dup"
	}
	_, err = js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: data, Header: nats.Header{contracts.HeaderMsgID: []string{msgID}}},
		natstest.PatientPublish)
	return err
}

// pubWait waits until every async publish is acknowledged.
func pubWait(ctx context.Context, js jetstream.JetStream) error {
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
		return fmt.Errorf("%d publishes not acknowledged within a minute", js.PublishAsyncPending())
	}
}

// velStateCheck reads the bucket after each burst and checks it against
// the event log: every card's and device's state holds exactly the
// transactions of the key processed so far that pruning keeps (event
// time after the key's newest minus lateness minus 24 h), each once, with
// the log's time, amount, currency, device or card; its last ordinal
// counts every transaction of the key processed so far (so none was
// recorded twice, even one pruned since); a transaction keeps its ordinal
// from one read to the next; a card's device memory holds each device it
// used, with the ordinal of the first transaction with it. The ordinals
// read are what the brute force uses.
type velStateCheck struct {
	log     *velLog
	kv      jetstream.KeyValue
	entries int
}

func (c *velStateCheck) snapshot(ctx context.Context, upTo int) error {
	byCard := map[string][]*velTxn{}
	byDevice := map[string][]*velTxn{}
	for _, x := range c.log.txns {
		if x.seg > upTo {
			continue
		}
		byCard[x.ev.CardToken] = append(byCard[x.ev.CardToken], x)
		if x.ev.DeviceID != "" {
			byDevice[x.ev.DeviceID] = append(byDevice[x.ev.DeviceID], x)
		}
	}
	var errs []error
	for _, card := range c.log.cards {
		if err := c.checkCard(ctx, card, byCard[card]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, dev := range c.log.devices {
		if err := c.checkDevice(ctx, dev, byDevice[dev]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 10 {
		errs = append(errs[:10], fmt.Errorf("and %d more keys", len(errs)-10))
	}
	return errors.Join(errs...)
}

// get reads a key's stored value (nil when absent).
func (c *velStateCheck) get(ctx context.Context, key string) ([]byte, error) {
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return e.Value(), nil
}

// kept returns the transactions of a key that the state must hold after
// pruning, by hash, and the key's newest event time.
func kept(txns []*velTxn) map[uint64]*velTxn {
	var maxT time.Time
	for _, x := range txns {
		if x.ev.EventTime.After(maxT) {
			maxT = x.ev.EventTime
		}
	}
	out := map[uint64]*velTxn{}
	for _, x := range txns {
		if x.ev.EventTime.After(maxT.Add(-velLateness - velWindow24h)) {
			out[x.hash] = x
		}
	}
	return out
}

// setOrd records a transaction's ordinal in a key, which must not change.
func setOrd(dst *uint64, ord uint64, key, id string) error {
	if *dst != 0 && *dst != ord {
		return fmt.Errorf("%s: transaction %s had ordinal %d, now %d", key, id, *dst, ord)
	}
	*dst = ord
	return nil
}

func (c *velStateCheck) checkCard(ctx context.Context, token string, txns []*velTxn) error {
	key := velocity.CardKey(token)
	b, err := c.get(ctx, key)
	if err != nil {
		return err
	}
	s, err := velocity.DecodeCard(b)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if s.LastOrd != uint64(len(txns)) {
		return fmt.Errorf("card %s (%s): last ordinal %d, but %d transactions of it were processed (each must be recorded once)",
			token, key, s.LastOrd, len(txns))
	}
	want := kept(txns)
	if len(s.Entries) != len(want) {
		return fmt.Errorf("card %s (%s): %d entries, want %d", token, key, len(s.Entries), len(want))
	}
	var errs []error
	seenOrd := map[uint64]bool{}
	for _, e := range s.Entries {
		x := want[e.Txn]
		if x == nil {
			errs = append(errs, fmt.Errorf("card %s: entry %x (ord %d) is none of its transactions kept", token, e.Txn, e.Ord))
			continue
		}
		delete(want, e.Txn)
		var dev uint64
		if x.ev.DeviceID != "" {
			dev = velocity.DeviceHash(x.ev.DeviceID)
		}
		if e.Time != x.ev.EventTime.UnixNano() || e.Amount != x.ev.AmountMinor || e.Currency.String() != x.ev.Currency || e.Device != dev {
			errs = append(errs, fmt.Errorf("card %s: entry of %s is {t %d, %d %s, device %x}, the log says {t %d, %d %s, device %x}",
				token, x.ev.TransactionID, e.Time, e.Amount, e.Currency, e.Device, x.ev.EventTime.UnixNano(), x.ev.AmountMinor, x.ev.Currency, dev))
		}
		if e.Ord == 0 || e.Ord > s.LastOrd || seenOrd[e.Ord] {
			errs = append(errs, fmt.Errorf("card %s: entry of %s has ordinal %d (last %d, or taken twice)", token, x.ev.TransactionID, e.Ord, s.LastOrd))
		}
		seenOrd[e.Ord] = true
		if err := setOrd(&x.ordCard, e.Ord, key, x.ev.TransactionID); err != nil {
			errs = append(errs, err)
		}
		c.entries++
	}
	for _, x := range want {
		errs = append(errs, fmt.Errorf("card %s: transaction %s missing from its state", token, x.ev.TransactionID))
	}
	// Device memory: every device the card used, first ordinal the
	// smallest ordinal of the card's transactions with it.
	first := map[uint64]uint64{}
	for _, x := range txns {
		if x.ev.DeviceID == "" {
			continue
		}
		d := velocity.DeviceHash(x.ev.DeviceID)
		if o, ok := first[d]; x.ordCard != 0 && (!ok || x.ordCard < o) {
			first[d] = x.ordCard
		}
	}
	if len(s.Devices) != len(first) {
		errs = append(errs, fmt.Errorf("card %s: %d devices remembered, it used %d", token, len(s.Devices), len(first)))
	}
	for _, d := range s.Devices {
		if o, ok := first[d.Device]; !ok || o != d.FirstOrd {
			errs = append(errs, fmt.Errorf("card %s: device %x remembered from ordinal %d, the card's first transaction with it has %d", token, d.Device, d.FirstOrd, o))
		}
	}
	return errors.Join(errs...)
}

func (c *velStateCheck) checkDevice(ctx context.Context, id string, txns []*velTxn) error {
	key := velocity.DeviceKey(id)
	b, err := c.get(ctx, key)
	if err != nil {
		return err
	}
	s, err := velocity.DecodeDevice(b)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if s.LastOrd != uint64(len(txns)) {
		return fmt.Errorf("device %s (%s): last ordinal %d, but %d transactions with it were processed (each must be recorded once)",
			id, key, s.LastOrd, len(txns))
	}
	want := kept(txns)
	if len(s.Entries) != len(want) {
		return fmt.Errorf("device %s (%s): %d entries, want %d", id, key, len(s.Entries), len(want))
	}
	var errs []error
	seenOrd := map[uint64]bool{}
	for _, e := range s.Entries {
		x := want[e.Txn]
		if x == nil {
			errs = append(errs, fmt.Errorf("device %s: entry %x (ord %d) is none of its transactions kept", id, e.Txn, e.Ord))
			continue
		}
		delete(want, e.Txn)
		if e.Time != x.ev.EventTime.UnixNano() || e.Card != velocity.CardHash(x.ev.CardToken) {
			errs = append(errs, fmt.Errorf("device %s: entry of %s is {t %d, card %x}, the log says {t %d, card %x}",
				id, x.ev.TransactionID, e.Time, e.Card, x.ev.EventTime.UnixNano(), velocity.CardHash(x.ev.CardToken)))
		}
		if e.Ord == 0 || e.Ord > s.LastOrd || seenOrd[e.Ord] {
			errs = append(errs, fmt.Errorf("device %s: entry of %s has ordinal %d (last %d, or taken twice)", id, x.ev.TransactionID, e.Ord, s.LastOrd))
		}
		seenOrd[e.Ord] = true
		if err := setOrd(&x.ordDevice, e.Ord, key, x.ev.TransactionID); err != nil {
			errs = append(errs, err)
		}
		c.entries++
	}
	for _, x := range want {
		errs = append(errs, fmt.Errorf("device %s: transaction %s missing from its state", id, x.ev.TransactionID))
	}
	return errors.Join(errs...)
}

// velVerdict is what the test reads of a stored verdict.
type velVerdict struct {
	TransactionID string                  `json:"transaction_id"`
	Features      contracts.FeatureValues `json:"features"`
}

// readVelVerdicts reads VERDICTS and returns the verdict of each
// transaction of the log; it fails unless each has exactly one and the
// stream holds nothing else.
func readVelVerdicts(ctx context.Context, js jetstream.JetStream, l *velLog) (map[string]*velVerdict, error) {
	st, err := js.Stream(ctx, streamVerdicts)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*velVerdict{}
	var errs []error
	foreign := 0
	err = streamread.Stored(ctx, st, jetstream.OrderedConsumerConfig{}, info.State.LastSeq, func(m jetstream.Msg, _ *jetstream.MsgMetadata) error {
		var v velVerdict
		if err := json.Unmarshal(m.Data(), &v); err != nil {
			return fmt.Errorf("verdict on %s: %w", m.Subject(), err)
		}
		if l.byID[v.TransactionID] == nil {
			foreign++
			return nil
		}
		if out[v.TransactionID] != nil {
			errs = append(errs, fmt.Errorf("transaction %s: a second verdict", v.TransactionID))
			return nil
		}
		out[v.TransactionID] = &v
		return nil
	})
	if err != nil {
		return nil, err
	}
	if foreign > 0 {
		errs = append(errs, fmt.Errorf("%d verdicts name no transaction of the log", foreign))
	}
	missing := 0
	for _, x := range l.txns {
		if out[x.ev.TransactionID] == nil {
			if missing < 5 {
				errs = append(errs, fmt.Errorf("transaction %s: no verdict", x.ev.TransactionID))
			}
			missing++
		}
	}
	if missing > 0 {
		errs = append(errs, fmt.Errorf("%d transactions without a verdict", missing))
	}
	if dlq, err := js.Stream(ctx, streamDLQ); err == nil {
		if di, err := dlq.Info(ctx); err == nil && di.State.Msgs > 0 {
			errs = append(errs, fmt.Errorf("%s holds %d dead letters", streamDLQ, di.State.Msgs))
		}
	}
	return out, errors.Join(errs...)
}

// velExpected is the brute-force recomputation of one transaction's
// aggregates from the event log and the ordinals read from the stored
// state (issue 13's definitions, docs/velocity.md): over the key's other
// transactions with a smaller ordinal and an event time in (t-W, t].
type velExpected struct {
	count1h   int32
	amount24h int64
	devCards  *int32
	newDevice *bool
}

// bruteForce recomputes x's aggregates by scanning every transaction of
// its card and of its device (obvious on purpose).
func bruteForce(l *velLog, x *velTxn) velExpected {
	var e velExpected
	t := x.ev.EventTime
	in := func(y *velTxn, w time.Duration) bool {
		return y.ev.EventTime.After(t.Add(-w)) && !y.ev.EventTime.After(t)
	}
	newDevice := true
	cards := map[string]bool{}
	for _, y := range l.byCard[x.ev.CardToken] {
		if y == x {
			continue
		}
		if y.ordCard < x.ordCard {
			if in(y, velWindow1h) {
				e.count1h++
			}
			if in(y, velWindow24h) && y.ev.Currency == x.ev.Currency {
				e.amount24h += y.ev.AmountMinor
			}
			if x.ev.DeviceID != "" && y.ev.DeviceID == x.ev.DeviceID {
				newDevice = false
			}
		}
	}
	for _, y := range l.byDevice[x.ev.DeviceID] {
		if y != x && x.ev.DeviceID != "" && y.ordDevice < x.ordDevice && in(y, velWindow24h) {
			cards[y.ev.CardToken] = true
		}
	}
	if x.ev.DeviceID != "" {
		n := int32(len(cards))
		e.devCards, e.newDevice = &n, &newDevice
	}
	return e
}

// velFeatureNames are the verdict features that velocity gives.
var velFeatureNames = []string{features.CardTxnCount1h, features.LogCardAmount24h, features.AmountShareOf24h,
	features.DeviceCardCount24h, features.NewDevice}

// checkVelFeatures compares each verdict's velocity features with the
// features of the brute-force aggregates (the event with them as its
// aggregates, through scorer/features as the worker does), missing as
// null. It returns how many values differ, the first differences, and
// what the brute force found (to show the windows were not empty).
func checkVelFeatures(l *velLog, vds map[string]*velVerdict) (bad int, errs []error, st velFeatureStats) {
	pos := map[string]int{}
	for i, name := range features.Names() {
		pos[name] = i
	}
	perFeature := map[string]int{}
	for _, x := range l.txns {
		vd := vds[x.ev.TransactionID]
		if vd == nil {
			continue // reported by readVelVerdicts
		}
		if x.ordCard == 0 || (x.ev.DeviceID != "" && x.ordDevice == 0) {
			errs = append(errs, fmt.Errorf("transaction %s: no ordinal read from its card's or device's state", x.ev.TransactionID))
			bad++
			continue
		}
		exp := bruteForce(l, x)
		st.add(l, x, exp)
		ev := x.ev
		ev.Aggregates = &contracts.Aggregates{CardTxnCount1h: &exp.count1h, CardAmount24hMinor: &exp.amount24h,
			DeviceCardCount24h: exp.devCards, NewDevice: exp.newDevice}
		var want [features.Count]float64
		features.ExtractAll(&ev, &want)
		for _, name := range velFeatureNames {
			w := want[pos[name]]
			got, ok := vd.Features.Get(name)
			if ok && (got == w || math.IsNaN(got) && math.IsNaN(w)) {
				continue
			}
			perFeature[name]++
			if bad < 20 {
				errs = append(errs, fmt.Errorf("transaction %s (card %s ord %d, device %q ord %d, %s): %s = %v (present %v), brute force %v (count_1h %d, amount_24h %d %s)",
					x.ev.TransactionID, x.ev.CardToken, x.ordCard, x.ev.DeviceID, x.ordDevice, x.ev.EventTime.Format(time.RFC3339),
					name, got, ok, w, exp.count1h, exp.amount24h, x.ev.Currency))
			}
			bad++
		}
	}
	if bad > 0 {
		errs = append(errs, fmt.Errorf("%d velocity feature values differ from the brute force: %v", bad, perFeature))
	}
	return bad, errs, st
}

// velFeatureStats count what the brute force found, to show that the
// windows held something and that processing order differed from event
// time: transactions with another of the card in the hour, in the same
// currency within 24 h, a device used by several cards within 24 h, a
// device the card used before, and transactions recorded after a later
// one of their card.
type velFeatureStats struct {
	Count1h            int   `json:"card_txn_count_1h_nonzero"`
	MaxCount1h         int32 `json:"card_txn_count_1h_max"`
	Amount24h          int   `json:"card_amount_24h_nonzero"`
	DevCards2          int   `json:"device_card_count_24h_over_1"`
	KnownDevice        int   `json:"known_device"`
	RecordedAfterLater int   `json:"recorded_after_a_later_one"`
}

func (s *velFeatureStats) add(l *velLog, x *velTxn, e velExpected) {
	if e.count1h > 0 {
		s.Count1h++
	}
	s.MaxCount1h = max(s.MaxCount1h, e.count1h)
	if e.amount24h > 0 {
		s.Amount24h++
	}
	if e.devCards != nil && *e.devCards > 1 {
		s.DevCards2++
	}
	if e.newDevice != nil && !*e.newDevice {
		s.KnownDevice++
	}
	for _, y := range l.byCard[x.ev.CardToken] {
		if y.ordCard < x.ordCard && y.ev.EventTime.After(x.ev.EventTime) {
			s.RecordedAfterLater++
			break
		}
	}
}

func (s velFeatureStats) String() string {
	return fmt.Sprintf("brute force: %d with card_txn_count_1h > 0 (max %d), %d with card_amount_24h > 0, %d with device_card_count_24h > 1, "+
		"%d on a device the card used before; %d recorded after a later transaction of their card",
		s.Count1h, s.MaxCount1h, s.Amount24h, s.DevCards2, s.KnownDevice, s.RecordedAfterLater)
}

// TestVelocityChecksFail shows that the correctness test's checks bite,
// without processes: a log "processed" in publish order (ordinals given
// here, stored as the states scorer/velocity encodes in an embedded
// server's bucket, verdicts carrying the brute force's own features)
// passes; a verdict off by one, a value missing, two ordinals swapped, a
// transaction recorded twice or missing from its state each fail.
func TestVelocityChecksFail(t *testing.T) {
	l := newVelLog(t, 800, 7)
	cardOrd, devOrd := map[string]uint64{}, map[string]uint64{}
	for _, msgs := range l.segs {
		for _, m := range msgs {
			if m.dup {
				continue
			}
			x := m.txn
			cardOrd[x.ev.CardToken]++
			x.ordCard = cardOrd[x.ev.CardToken]
			if x.ev.DeviceID != "" {
				devOrd[x.ev.DeviceID]++
				x.ordDevice = devOrd[x.ev.DeviceID]
			}
		}
	}
	verdicts := func() map[string]*velVerdict {
		pos := map[string]int{}
		for i, name := range features.Names() {
			pos[name] = i
		}
		out := map[string]*velVerdict{}
		for _, x := range l.txns {
			e := bruteForce(l, x)
			ev := x.ev
			ev.Aggregates = &contracts.Aggregates{CardTxnCount1h: &e.count1h, CardAmount24hMinor: &e.amount24h, DeviceCardCount24h: e.devCards, NewDevice: e.newDevice}
			var f [features.Count]float64
			features.ExtractAll(&ev, &f)
			vd := &velVerdict{TransactionID: x.ev.TransactionID}
			for _, name := range velFeatureNames {
				vd.Features = append(vd.Features, contracts.FeatureValue{Name: name, Value: f[pos[name]]})
			}
			// Through JSON, as read from the stream.
			data, err := json.Marshal(vd.Features)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &vd.Features); err != nil {
				t.Fatal(err)
			}
			out[x.ev.TransactionID] = vd
		}
		return out
	}
	vds := verdicts()
	bad, errs, st := checkVelFeatures(l, vds)
	if bad != 0 {
		t.Fatalf("the brute force's own features: %d differences: %v", bad, errs)
	}
	if st.Count1h == 0 || st.Amount24h == 0 || st.DevCards2 == 0 || st.KnownDevice == 0 {
		t.Errorf("the log exercises too little: %s", st)
	}
	t.Logf("%s", st)

	// A transaction with others of its card in the hour, and one with a device.
	var busy, withDevice *velTxn
	for _, x := range l.txns {
		e := bruteForce(l, x)
		if busy == nil && e.count1h > 1 {
			busy = x
		}
		if withDevice == nil && e.newDevice != nil && !*e.newDevice {
			withDevice = x
		}
	}
	if busy == nil || withDevice == nil {
		t.Fatal("no busy transaction or none on a known device")
	}
	edit := func(id, name string, f func(float64) float64) map[string]*velVerdict {
		out := verdicts()
		fs := out[id].Features
		for i := range fs {
			if fs[i].Name == name {
				fs[i].Value = f(fs[i].Value)
			}
		}
		return out
	}
	for name, v := range map[string]map[string]*velVerdict{
		"count off by one":   edit(busy.ev.TransactionID, features.CardTxnCount1h, func(v float64) float64 { return v + 1 }),
		"amount a cent more": edit(busy.ev.TransactionID, features.LogCardAmount24h, func(v float64) float64 { return math.Nextafter(v, math.Inf(1)) }),
		"new_device missing": edit(withDevice.ev.TransactionID, features.NewDevice, func(float64) float64 { return math.NaN() }),
		"device count 0":     edit(withDevice.ev.TransactionID, features.DeviceCardCount24h, func(float64) float64 { return 0 }),
	} {
		if bad, _, _ := checkVelFeatures(l, v); bad != 1 {
			t.Errorf("%s: %d differences found, want 1", name, bad)
		}
	}
	// The brute force follows the ordinals: busy recorded first of its card
	// changes its features.
	saved := busy.ordCard
	busy.ordCard = 0
	if bad, _, _ := checkVelFeatures(l, vds); bad == 0 {
		t.Error("moving a transaction to the front of its card changed nothing")
	}
	busy.ordCard = saved

	// The state check, on states built from the log and stored in a bucket.
	js := natstest.JetStream(t, natstest.Start(t).ClientURL())
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: velBucket})
	if err != nil {
		t.Fatal(err)
	}
	// dupe is recorded twice in its card's state, drop is missing from it.
	store := func(dupe, drop *velTxn) {
		horizon := func(maxT int64) int64 { return maxT - int64(velLateness+velWindow24h) }
		for token, txns := range l.byCard {
			var s velocity.CardState
			for _, x := range byOrd(txns, func(x *velTxn) uint64 { return x.ordCard }) {
				e := velocity.CardEntry{Txn: x.hash, Ord: x.ordCard, Time: x.ev.EventTime.UnixNano(), Amount: x.ev.AmountMinor, Currency: velocity.CurrencyCode(x.ev.Currency)}
				if x.ev.DeviceID != "" {
					e.Device = velocity.DeviceHash(x.ev.DeviceID)
					if !slices.ContainsFunc(s.Devices, func(d velocity.CardDevice) bool { return d.Device == e.Device }) {
						s.Devices = append(s.Devices, velocity.CardDevice{Device: e.Device, FirstOrd: e.Ord, LastTime: e.Time})
					}
				}
				s.LastOrd = e.Ord
				s.MaxTime = max(s.MaxTime, e.Time)
				if x != drop {
					s.Entries = append(s.Entries, e)
				}
				if x == dupe {
					s.LastOrd++
					e.Ord = s.LastOrd
					s.Entries = append(s.Entries, e)
				}
			}
			s.Entries = slices.DeleteFunc(s.Entries, func(e velocity.CardEntry) bool { return e.Time <= horizon(s.MaxTime) })
			b, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(t.Context(), velocity.CardKey(token), b); err != nil {
				t.Fatal(err)
			}
		}
		for id, txns := range l.byDevice {
			var s velocity.DeviceState
			for _, x := range byOrd(txns, func(x *velTxn) uint64 { return x.ordDevice }) {
				s.LastOrd = x.ordDevice
				s.MaxTime = max(s.MaxTime, x.ev.EventTime.UnixNano())
				s.Entries = append(s.Entries, velocity.DeviceEntry{Txn: x.hash, Ord: x.ordDevice, Time: x.ev.EventTime.UnixNano(), Card: velocity.CardHash(x.ev.CardToken)})
			}
			s.Entries = slices.DeleteFunc(s.Entries, func(e velocity.DeviceEntry) bool { return e.Time <= horizon(s.MaxTime) })
			b, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(t.Context(), velocity.DeviceKey(id), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	last := len(l.segs) - 1
	c := &velStateCheck{log: l, kv: kv}
	store(nil, nil)
	if err := c.snapshot(t.Context(), last); err != nil {
		t.Fatalf("states built from the log: %v", err)
	}
	x := l.segs[last][0].txn
	store(x, nil)
	if err := c.snapshot(t.Context(), last); err == nil {
		t.Error("a transaction recorded twice in its card's state passed")
	}
	store(nil, x)
	if err := c.snapshot(t.Context(), last); err == nil {
		t.Error("a transaction missing from its card's state passed")
	}
	store(nil, nil)
	x.ordCard++ // as if an earlier read had seen another ordinal
	if err := c.snapshot(t.Context(), last); err == nil || !strings.Contains(err.Error(), "had ordinal") {
		t.Errorf("an ordinal that changed between two reads: %v", err)
	}
}

// byOrd returns txns sorted by the ordinal ord gives.
func byOrd(txns []*velTxn, ord func(*velTxn) uint64) []*velTxn {
	out := slices.Clone(txns)
	slices.SortFunc(out, func(a, b *velTxn) int { return cmp.Compare(ord(a), ord(b)) })
	return out
}
