package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/synthetic"
)

// Run executes one load test and returns its report. It returns an error
// only when the run could not take place (bad configuration, no server, no
// input stream); missing or duplicate verdicts are in the report (see
// Report.OK). The run stops by itself: after Count transactions or Duration,
// a drain of at most Drain without progress, and never later than
// MaxDuration.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxDuration)
	defer cancel()
	r := newRun(cfg)
	var rep *Report
	var err error
	if cfg.Mode == ModeRequest {
		rep, err = r.runRequest(ctx)
	} else {
		rep, err = r.runStream(ctx)
	}
	if rep != nil && ctx.Err() != nil {
		rep.HitHardCap = true
	}
	return rep, err
}

// NewRunID returns a run id from the clock, in base 36: unique per run and
// never a run of 13 digits.
func NewRunID(now time.Time) string {
	return strconv.FormatInt(now.UnixNano()/1000, 36)
}

// run is the state of one load test. recs and seen are indexed by the
// transaction's number in the run (its id is prefix + (index+1)).
type run struct {
	cfg    Config
	prefix string
	total  int

	origin time.Time // schedule origin; intended times are offsets from it
	// recs packs (intended offset in ns) << 4 | flags: bits 0-2 the scenario
	// index + 1 (0: not sent), bit 3 the publish failed.
	recs []atomic.Int64
	seen []atomic.Uint32

	sent      atomic.Int64
	published atomic.Int64
	pubErrs   atomic.Int64
	matched   atomic.Int64
	dups      atomic.Int64
	foreign   atomic.Int64
	dlqOurs   atomic.Int64
	dlqOther  atomic.Int64
	lastEvent atomic.Int64 // unix ns of the last verdict, dead letter or PubAck

	mu        sync.Mutex
	hist      *hdrhistogram.Histogram
	interval  *hdrhistogram.Histogram
	confusion [numScenarios][len(decisionNames)]int64
	dlqByWhy  map[string]int64
	errs      map[string]int64

	// pass-through: the worker's verdicts name the input stream sequence.
	ptMu   sync.Mutex
	seqIdx map[uint64]int
	early  map[uint64]int64 // verdicts seen before their PubAck: seq -> arrival ns
}

const failedBit = 1 << 3

func newRun(cfg Config) *run {
	if cfg.RunID == "" {
		cfg.RunID = NewRunID(time.Now())
	}
	n := cfg.total()
	r := &run{
		cfg: cfg, prefix: "lt-" + cfg.RunID + "-", total: n,
		recs: make([]atomic.Int64, n), seen: make([]atomic.Uint32, n),
		hist: newHist(), interval: newHist(),
		dlqByWhy: map[string]int64{}, errs: map[string]int64{},
	}
	if cfg.PassThrough {
		r.seqIdx = make(map[uint64]int, min(n, 1<<20))
		r.early = map[uint64]int64{}
	}
	return r
}

func (r *run) generator() *synthetic.Generator {
	sc := synthetic.Config{Seed: r.cfg.Seed, FraudRate: r.cfg.FraudRate, Now: time.Now, IDPrefix: r.prefix}
	if r.cfg.PopulationCards > 0 {
		sc.Population = &synthetic.Population{Cards: r.cfg.PopulationCards}
	}
	return synthetic.New(sc)
}

func pack(offset time.Duration, lbl synthetic.Label) int64 {
	return int64(offset)<<4 | int64(scenarioIndex(lbl)+1)
}

// index returns the run index of a transaction id, or -1.
func (r *run) index(id string) int {
	if !strings.HasPrefix(id, r.prefix) {
		return -1
	}
	n, err := strconv.ParseUint(id[len(r.prefix):], 10, 64)
	if err != nil || n == 0 || n > uint64(r.total) {
		return -1
	}
	return int(n - 1)
}

// match records the arrival of a verdict (or reply) for index i at now
// (unix ns).
func (r *run) match(i int, decision string, now int64) {
	if r.seen[i].Add(1) > 1 {
		r.dups.Add(1)
		return
	}
	rec := r.recs[i].Load()
	if rec&7 == 0 {
		// Not recorded as sent by us: impossible unless ids collide.
		r.foreign.Add(1)
		return
	}
	lat := now - (r.origin.UnixNano() + rec>>4)
	r.mu.Lock()
	recordNanos(r.hist, lat)
	recordNanos(r.interval, lat)
	r.confusion[rec&7-1][decisionIndex(decision)]++
	r.mu.Unlock()
	r.matched.Add(1)
	r.lastEvent.Store(now)
}

// onVerdict handles one verdict: subject <prefix><decision>, id the
// Nats-Msg-Id.
func (r *run) onVerdict(subject, id string) {
	now := time.Now().UnixNano()
	decision := strings.TrimPrefix(subject, r.cfg.VerdictPrefix)
	if r.cfg.PassThrough {
		seq, ok := strings.CutPrefix(id, "seq-")
		n, err := strconv.ParseUint(seq, 10, 64)
		if !ok || err != nil {
			r.foreign.Add(1)
			return
		}
		r.ptMu.Lock()
		i, known := r.seqIdx[n]
		if !known {
			if _, dup := r.early[n]; dup {
				r.ptMu.Unlock()
				r.dups.Add(1)
				return
			}
			r.early[n] = now
		}
		r.ptMu.Unlock()
		if known {
			r.match(i, decision, now)
		}
		return
	}
	i := r.index(id)
	if i < 0 {
		r.foreign.Add(1)
		return
	}
	r.match(i, decision, now)
}

// onPubAck maps a pass-through input sequence to its run index.
func (r *run) onPubAck(seq uint64, i int) {
	r.ptMu.Lock()
	r.seqIdx[seq] = i
	at, early := r.early[seq]
	if early {
		delete(r.early, seq)
	}
	r.ptMu.Unlock()
	if early {
		r.match(i, "approve", at)
	}
}

func (r *run) onDeadLetter(m *nats.Msg) {
	reason := strings.TrimPrefix(m.Subject, r.cfg.DLQPrefix)
	i := r.index(m.Header.Get(contracts.HeaderDLQTransactionID))
	if i < 0 {
		r.dlqOther.Add(1)
		return
	}
	r.dlqOurs.Add(1)
	r.mu.Lock()
	r.dlqByWhy[reason]++
	r.mu.Unlock()
	r.lastEvent.Store(time.Now().UnixNano())
}

func (r *run) addError(kind string) {
	r.mu.Lock()
	r.errs[kind]++
	r.mu.Unlock()
}

func (r *run) connect(name string) (*nats.Conn, error) {
	if r.cfg.Connect != nil {
		nc, err := r.cfg.Connect(name)
		if err != nil {
			return nil, fmt.Errorf("loadtest: connect: %w", err)
		}
		return nc, nil
	}
	nc, err := nats.Connect(r.cfg.URL, nats.Name(name), nats.Timeout(5*time.Second),
		nats.MaxReconnects(10), nats.ReconnectWait(500*time.Millisecond),
		// Large pending buffers: a load tester must not drop verdicts as a
		// slow consumer; the slices above are the real bound.
		nats.ReconnectBufSize(64<<20))
	if err != nil {
		return nil, fmt.Errorf("loadtest: connect %s: %w", r.cfg.URL, err)
	}
	return nc, nil
}

// waitStream waits until the named stream exists (the workers create it).
func waitStream(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		s, err := js.Stream(wctx, name)
		if err == nil {
			return s, nil
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("loadtest: stream %s (is a worker running?): %w", name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// nextSeq returns the sequence the named stream will give its next message
// (1 when the stream does not exist yet: it will be read whole).
func nextSeq(ctx context.Context, js jetstream.JetStream, name string) uint64 {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 1
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 1
	}
	return info.State.LastSeq + 1
}

type pubPending struct {
	f jetstream.PubAckFuture
	i int
}

func (r *run) runStream(ctx context.Context) (*Report, error) {
	log := r.cfg.Logger
	pub, err := r.connect("fraudscore-loadtest-pub")
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	sub, err := r.connect("fraudscore-loadtest-verdicts")
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	js, err := jetstream.New(pub, jetstream.WithPublishAsyncMaxPending(r.cfg.Window+16), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("loadtest: jetstream: %w", err)
	}
	if _, err := waitStream(ctx, js, r.cfg.InputStream); err != nil {
		return nil, err
	}
	store := r.cfg.Store
	store.VerdictStream, store.DLQStream = r.cfg.VerdictStream, r.cfg.DLQStream
	store.VerdictFrom, store.DLQFrom = nextSeq(ctx, js, r.cfg.VerdictStream), nextSeq(ctx, js, r.cfg.DLQStream)

	// Listen before sending.
	switch r.cfg.Verdicts {
	case VerdictsStream:
		sjs, err := jetstream.New(sub)
		if err != nil {
			return nil, fmt.Errorf("loadtest: jetstream: %w", err)
		}
		oc, err := sjs.OrderedConsumer(ctx, r.cfg.VerdictStream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{r.cfg.VerdictPrefix + ">"}, DeliverPolicy: jetstream.DeliverNewPolicy, HeadersOnly: true,
		})
		if err != nil {
			return nil, fmt.Errorf("loadtest: ordered consumer on %s: %w", r.cfg.VerdictStream, err)
		}
		cc, err := oc.Consume(func(m jetstream.Msg) { r.onVerdict(m.Subject(), m.Headers().Get(contracts.HeaderMsgID)) },
			jetstream.PullMaxMessages(4096))
		if err != nil {
			return nil, fmt.Errorf("loadtest: consume %s: %w", r.cfg.VerdictStream, err)
		}
		defer cc.Stop()
	default:
		s, err := sub.Subscribe(r.cfg.VerdictPrefix+">", func(m *nats.Msg) { r.onVerdict(m.Subject, m.Header.Get(contracts.HeaderMsgID)) })
		if err != nil {
			return nil, fmt.Errorf("loadtest: subscribe verdicts: %w", err)
		}
		_ = s.SetPendingLimits(-1, -1)
	}
	ds, err := sub.Subscribe(r.cfg.DLQPrefix+">", r.onDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("loadtest: subscribe dead letters: %w", err)
	}
	_ = ds.SetPendingLimits(-1, -1)
	if err := sub.Flush(); err != nil {
		return nil, fmt.Errorf("loadtest: flush: %w", err)
	}

	r.origin = time.Now()
	log.Info("sending", "run_id", r.cfg.RunID, "rate", r.cfg.Rate, "max_count", r.total, "duration", r.cfg.Duration.String())
	stopProgress := r.startProgress()
	acks := make(chan pubPending, r.cfg.Window)
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		for p := range acks {
			select {
			case pa := <-p.f.Ok():
				r.published.Add(1)
				if r.cfg.PassThrough {
					r.onPubAck(pa.Sequence, p.i)
				}
			case err := <-p.f.Err():
				r.pubErrs.Add(1)
				r.recs[p.i].Store(r.recs[p.i].Load() | failedBit)
				log.Warn("publish not confirmed", "err", err)
			}
		}
	}()
	gen := r.generator()
	sendEnd := r.schedule(ctx, func(i int, intended time.Time) bool {
		ev, lbl := gen.Next()
		if r.poison(i) {
			ev.AmountMinor = -1 // invalid: the workers must dead-letter it
		}
		data, err := json.Marshal(&ev)
		if err != nil {
			r.addError("encode")
			return true
		}
		r.recs[i].Store(pack(intended.Sub(r.origin), lbl))
		m := &nats.Msg{Subject: r.cfg.Subject, Data: data}
		if !r.cfg.NoMsgID {
			m.Header = nats.Header{contracts.HeaderMsgID: []string{ev.TransactionID}}
		}
		f, err := js.PublishMsgAsync(m)
		r.sent.Add(1)
		if err != nil {
			r.pubErrs.Add(1)
			r.recs[i].Store(r.recs[i].Load() | failedBit)
			return !errors.Is(err, nats.ErrConnectionClosed)
		}
		acks <- pubPending{f: f, i: i}
		return true
	})
	close(acks)
	<-ackDone
	r.lastEvent.Store(max(r.lastEvent.Load(), time.Now().UnixNano()))
	log.Info("sent", "sent", r.sent.Load(), "published", r.published.Load(), "seconds", sendEnd.Sub(r.origin).Seconds())

	var backlogStart time.Time
	if r.cfg.AfterSend != nil {
		if err := r.cfg.AfterSend(ctx); err != nil {
			stopProgress()
			return nil, fmt.Errorf("loadtest: after send: %w", err)
		}
		backlogStart = time.Now()
		r.lastEvent.Store(max(r.lastEvent.Load(), backlogStart.UnixNano()))
	}
	r.drain(ctx, func() int64 { return r.published.Load() })
	stopProgress()
	// Let handlers finish: drain the subscriber connection.
	closed := make(chan struct{})
	sub.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := sub.Drain(); err == nil {
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
		}
	}
	r.measured()
	rep := r.report(sendEnd)
	if !backlogStart.IsZero() {
		if el := time.Unix(0, r.lastEvent.Load()).Sub(backlogStart).Seconds(); el > 0 {
			rep.BacklogSeconds = el
			rep.BacklogThroughput = float64(rep.Matched) / el
		}
	}
	// Integrity from what the streams stored, not from the probe: the
	// server stores a verdict after fanning it out to core subscribers, and
	// the check waits until the streams stop changing. It runs even when the
	// run was cut short (its own Timeout bounds it).
	g, err := VerifyStored(context.WithoutCancel(ctx), js, r.expected(), store)
	if err != nil {
		return nil, err
	}
	rep.setStored(g)
	return rep, nil
}

// measured calls Config.Measured, if set, when the measured phase ends.
func (r *run) measured() {
	if r.cfg.Measured != nil {
		r.cfg.Measured()
	}
}

// poison reports whether transaction i is sent invalid.
func (r *run) poison(i int) bool {
	return r.cfg.PoisonEvery > 0 && (i+1)%r.cfg.PoisonEvery == 0
}

// expected is what the streams must hold for this run: one verdict per
// confirmed publish, one dead letter per confirmed poison message, at most
// one of either for an unconfirmed publish, nothing for the rest.
func (r *run) expected() Expected {
	n := min(int(r.sent.Load()), r.total)
	return Expected{
		Len: n,
		Index: func(id string) int {
			if seq, ok := strings.CutPrefix(id, "seq-"); ok && r.cfg.PassThrough {
				return r.seqIndex(seq)
			}
			if i := r.index(id); i < n {
				return i
			}
			return -1
		},
		ID: func(i int) string { return r.prefix + strconv.Itoa(i+1) },
		Want: func(i int) Outcome {
			switch rec := r.recs[i].Load(); {
			case rec&7 == 0:
				return Nothing
			case rec&failedBit != 0:
				return AtMostOne
			case r.poison(i):
				return OneDeadLetter
			}
			return OneVerdict
		},
	}
}

// seqIndex maps a pass-through verdict's input sequence to its run index.
func (r *run) seqIndex(seq string) int {
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return -1
	}
	r.ptMu.Lock()
	defer r.ptMu.Unlock()
	if i, ok := r.seqIdx[n]; ok {
		return i
	}
	return -1
}

// schedule calls send for each index on the open-loop schedule (intended
// time origin + i/rate, whatever the replies do) or back to back at rate 0,
// until the count, the duration or ctx ends it, or send returns false. It
// returns when sending ended.
func (r *run) schedule(ctx context.Context, send func(i int, intended time.Time) bool) time.Time {
	var deadline time.Time
	if r.cfg.Duration > 0 {
		deadline = r.origin.Add(r.cfg.Duration)
	}
	var interval float64
	if r.cfg.Rate > 0 {
		interval = float64(time.Second) / r.cfg.Rate
	}
	for i := 0; i < r.total; i++ {
		if i&63 == 0 && ctx.Err() != nil {
			break
		}
		var intended time.Time
		if interval > 0 {
			intended = r.origin.Add(time.Duration(float64(i) * interval))
			if d := time.Until(intended); d > 0 {
				// Sleep to the next due send; whatever fell due meanwhile is
				// sent at once, stamped with its own intended time.
				select {
				case <-ctx.Done():
					return time.Now()
				case <-time.After(d):
				}
			}
		} else {
			intended = time.Now()
		}
		if !deadline.IsZero() && !intended.Before(deadline) {
			break
		}
		if !send(i, intended) {
			break
		}
	}
	return time.Now()
}

// drain waits until every expected transaction has a verdict or a dead
// letter, or nothing arrived for Drain, or ctx ends.
func (r *run) drain(ctx context.Context, expected func() int64) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if r.matched.Load()+r.dlqOurs.Load() >= expected() {
			return
		}
		if time.Since(time.Unix(0, r.lastEvent.Load())) > r.cfg.Drain {
			r.cfg.Logger.Warn("drain: no progress; giving up", "waited", r.cfg.Drain.String())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startProgress prints a line every second to cfg.Progress; the returned
// function stops it.
func (r *run) startProgress() func() {
	w := r.cfg.Progress
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastSent, lastMatched int64
		last := r.origin
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				sent, matched := r.sent.Load(), r.matched.Load()
				el := now.Sub(last).Seconds()
				r.mu.Lock()
				iv := LatencyOf(r.interval)
				r.interval.Reset()
				r.mu.Unlock()
				fmt.Fprintf(w, "[%5.1fs] sent %9d (%7.0f/s)  verdicts %9d (%7.0f/s)  outstanding %7d  p50 %7.3fms  p99 %7.3fms  max %8.3fms  dlq %d  dup %d\n",
					now.Sub(r.origin).Seconds(), sent, float64(sent-lastSent)/el, matched, float64(matched-lastMatched)/el,
					sent-matched-r.dlqOurs.Load(), iv.P50, iv.P99, iv.Max, r.dlqOurs.Load(), r.dups.Load())
				lastSent, lastMatched, last = sent, matched, now
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func (r *run) report(sendEnd time.Time) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{
		Mode: r.cfg.Mode, PassThrough: r.cfg.PassThrough, TargetRate: r.cfg.Rate,
		RunID: r.cfg.RunID, Seed: r.cfg.Seed, Started: r.origin.UTC(),
		Sent: r.sent.Load(), Published: r.published.Load(), PublishErrors: r.pubErrs.Load(),
		Matched: r.matched.Load(), DuplicateDeliveries: r.dups.Load(), Foreign: r.foreign.Load(),
		ForeignDeadLetters: r.dlqOther.Load(),
		DeadLetters:        map[string]int64{},
		SendSeconds:        sendEnd.Sub(r.origin).Seconds(),
		Latency:            LatencyOf(r.hist),
		Confusion:          newConfusion(&r.confusion),
	}
	if r.cfg.Mode == ModeRequest {
		rep.Concurrency = r.cfg.Concurrency
		rep.Errors = map[string]int64{}
		for k, v := range r.errs {
			rep.Errors[k] = v
		}
		rep.Missing = rep.Sent - rep.Matched - sum(r.errs)
	} else {
		rep.Verdicts, rep.Window = r.cfg.Verdicts, r.cfg.Window
		if len(r.errs) > 0 {
			rep.Errors = map[string]int64{}
			for k, v := range r.errs {
				rep.Errors[k] = v
			}
		}
		// Missing comes from the stored check (Report.setStored), not
		// from what the probe saw.
	}
	for k, v := range r.dlqByWhy {
		rep.DeadLetters[k] = v
	}
	if rep.SendSeconds > 0 {
		rep.SendRate = float64(rep.Sent) / rep.SendSeconds
	}
	end := time.Unix(0, r.lastEvent.Load())
	if end.Before(sendEnd) {
		end = sendEnd
	}
	rep.Seconds = end.Sub(r.origin).Seconds()
	if rep.Seconds > 0 {
		rep.Throughput = float64(rep.Matched) / rep.Seconds
	}
	return rep
}

func sum(m map[string]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}
