package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/tracing"
)

// Scorer is what the worker needs from the scoring core: score a validated
// event into a verdict. Implementations must be safe for concurrent use.
type Scorer interface {
	Score(ev *contracts.TransactionEvent, vd *contracts.Verdict) error
}

// Enricher adds to a validated event what the event alone does not carry
// (velocity aggregates), before scoring. The worker calls it on both paths,
// after decoding, validation and the card-data checks; an error NAKs a
// stream message with delay and answers a request as a scoring failure.
// Implementations must be safe for concurrent use.
type Enricher interface {
	Enrich(ctx context.Context, ev *contracts.TransactionEvent) error
}

// Decoder decodes and validates a transaction payload into ev, returning a
// *contracts.ValidationError for bad input.
type Decoder interface {
	DecodeEvent(data []byte, ev *contracts.TransactionEvent) error
}

// Options are the worker's collaborators.
type Options struct {
	Config  *Config
	Conn    *nats.Conn
	Scorer  Scorer
	Decoder Decoder
	Metrics *Metrics
	Logger  *slog.Logger
	// Version is the build version reported by the micro service.
	Version string
	// SetupRetry bounds the retries of the JetStream setup at start; zero
	// fields take DefaultSetupRetry's values.
	SetupRetry SetupRetry
	// Tracer exports a span per message when set (tracing.FromEnv); the nil
	// Tracer, the default, still carries an incoming W3C traceparent to the
	// verdict, the dead letter and the reply.
	Tracer *tracing.Tracer
	// Labels configures the label join (ADR 0020); nil or not Enabled runs
	// none.
	Labels *LabelConfig
	// Enricher, when set, enriches every validated event before it is
	// scored (FRAUDSCORE_VELOCITY=kv: velocity aggregates, ADR 0022); nil
	// enriches nothing and costs nothing.
	Enricher Enricher
}

// Worker consumes, scores, publishes and acks. Create it with New and run it
// with Run.
type Worker struct {
	cfg     *Config
	nc      *nats.Conn
	js      jetstream.JetStream
	scorer  Scorer
	decoder Decoder
	// enricher is nil without enrichment; enrichCtx is cancelled when Run
	// returns (not at the start of a drain: what is in flight finishes).
	enricher  Enricher
	enrichCtx context.Context
	m         *Metrics
	log       *slog.Logger
	id        string
	version   string
	retry     SetupRetry
	tracer    *tracing.Tracer

	labelCfg *LabelConfig // nil: no label join
	archiver *archiver    // nil: no archive (FRAUDSCORE_ARCHIVE off)

	work     chan jetstream.Msg
	poolStop chan struct{} // closed at drain: the pool finishes what is buffered and exits
	// consumerGone is set when the backlog poll finds the consumer missing:
	// the pull loop may not notice by itself (no 409 arrives when the
	// consumer vanished between pulls), so the watchdog restarts it.
	consumerGone atomic.Bool
	acks         chan pending // stream verdicts awaiting PubAck
	audits       chan pending // request-reply audit copies awaiting PubAck

	hot atomic.Pointer[hotPath] // per-model metric children and header values
	// static per-decision values, indexed like contracts.Decisions
	decisionHdr     [len(contracts.Decisions)][]string
	verdictsStream  [len(contracts.Decisions)]prometheus.Counter
	verdictsRequest [len(contracts.Decisions)]prometheus.Counter

	verdictSubjects [len(contracts.Decisions)]string

	serving   atomic.Bool // the score endpoint is registered with the server
	bound     atomic.Bool
	draining  atomic.Bool
	consumeOK atomic.Bool
	inflight  atomic.Int64
	progress  atomic.Int64 // unix nanos of the last completed message
	wedged    atomic.Pointer[string]
	setupErr  atomic.Pointer[string] // the last transient setup failure, while setup retries

	input jetstream.Stream

	// Publish options built once (an option is a closure; building it per
	// message would allocate). A full publish window blocks the scoring
	// goroutine for up to stallWait (back-pressure) before the message is
	// NAKed with delay.
	verdictPubOpts []jetstream.PublishOpt
	dlqPubOpts     []jetstream.PublishOpt
}

// stallWait bounds how long a publish waits for room in the async window.
const stallWait = 2 * time.Second

// pending is a verdict publish awaiting its PubAck; msg is nil for verdicts
// of request-reply (audit copies).
type pending struct {
	msg      jetstream.Msg
	future   jetstream.PubAckFuture
	decision contracts.Decision
	model    string
	received time.Time
	stamp    time.Time // JetStream timestamp of the input
	txID     string
	delivery uint64
	dlq      *deadLetterInfo // set when the publish is a dead letter, not a verdict
}

// deadLetterInfo is what the ack loop needs to finish a dead letter.
type deadLetterInfo struct {
	reason, detail string
	seq            uint64
	erase          bool // the input held card data: erase it before Term
}

// New returns a worker; nothing is connected or created until Run.
func New(o Options) (*Worker, error) {
	if o.Config == nil || o.Conn == nil || o.Metrics == nil {
		return nil, fmt.Errorf("worker: Config, Conn and Metrics are required: %w", ErrConfig)
	}
	if !o.Config.PassThrough && (o.Scorer == nil || o.Decoder == nil) {
		return nil, fmt.Errorf("worker: Scorer and Decoder are required: %w", ErrConfig)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	w := &Worker{
		cfg: o.Config, nc: o.Conn, scorer: o.Scorer, decoder: o.Decoder, m: o.Metrics,
		log: o.Logger, id: o.Config.workerID(), version: o.Version, retry: o.SetupRetry.withDefaults(),
		tracer: o.Tracer, enricher: o.Enricher, enrichCtx: context.Background(),
	}
	if o.Labels != nil && o.Labels.Enabled {
		w.labelCfg = o.Labels
	}
	if w.version == "" {
		w.version = "0.0.0"
	}
	if o.Config.Archive && !o.Config.PassThrough {
		w.archiver = newArchiver(o.Config, o.Metrics)
	}
	for i, d := range contracts.Decisions {
		w.verdictSubjects[i] = contracts.VerdictSubject(o.Config.VerdictPrefix, d)
		w.decisionHdr[i] = []string{string(d)}
		w.verdictsStream[i] = o.Metrics.Verdicts.WithLabelValues(string(d), "stream")
		w.verdictsRequest[i] = o.Metrics.Verdicts.WithLabelValues(string(d), "request")
	}
	js, err := jetstream.New(o.Conn,
		jetstream.WithPublishAsyncMaxPending(o.Config.PublishWindow),
		jetstream.WithPublishAsyncTimeout(o.Config.PublishAckTimeout()),
	)
	if err != nil {
		return nil, fmt.Errorf("worker: jetstream: %w", err)
	}
	w.js = js
	w.verdictPubOpts = []jetstream.PublishOpt{jetstream.WithStallWait(stallWait)}
	w.dlqPubOpts = []jetstream.PublishOpt{jetstream.WithStallWait(stallWait), jetstream.WithRetryAttempts(0)}
	w.progress.Store(time.Now().UnixNano())
	return w, nil
}

// Ready reports nil while the worker can take traffic: connected, consumer
// bound and consuming, not draining.
func (w *Worker) Ready() error {
	switch {
	case w.draining.Load():
		return errors.New("draining")
	case !w.nc.IsConnected():
		return fmt.Errorf("nats %s", w.nc.Status())
	case !w.bound.Load() && w.setupErr.Load() != nil:
		return fmt.Errorf("JetStream setup retrying: %s", *w.setupErr.Load())
	case !w.bound.Load():
		return errors.New("consumer not bound")
	case !w.consumeOK.Load():
		return errors.New("not consuming")
	case !w.serving.Load():
		return errors.New("score endpoint not registered")
	}
	return nil
}

// Healthy reports nil unless the worker is wedged: the consume loop died and
// could not be restarted, or messages are in flight and none has completed
// for StallTimeout.
func (w *Worker) Healthy() error {
	if p := w.wedged.Load(); p != nil {
		return errors.New(*p)
	}
	if w.inflight.Load() > 0 {
		if idle := time.Since(time.Unix(0, w.progress.Load())); idle > w.cfg.StallTimeout {
			return fmt.Errorf("%d messages in flight and none completed for %s", w.inflight.Load(), idle.Round(time.Second))
		}
	}
	return nil
}

// Run ensures the topology (retrying transient failures until ctx is
// cancelled, see SetupRetry), then consumes until ctx is cancelled, then
// drains gracefully within the configured deadline: readiness fails, the
// service endpoint stops, the pull consumer drains, in-flight messages
// finish, and outstanding PubAcks are awaited. Nothing is acked before its
// verdict is stored; what is not finished by the deadline is redelivered
// elsewhere.
func (w *Worker) Run(ctx context.Context) error {
	cons, advCons, err := w.setup(ctx)
	if err != nil {
		return err
	}
	w.bound.Store(true)
	enrichCtx, cancelEnrich := context.WithCancel(context.Background())
	defer cancelEnrich()
	w.enrichCtx = enrichCtx

	workers := scoringGoroutines(w.cfg.Concurrency, runtime.GOMAXPROCS(0), w.enricher != nil)
	w.work = make(chan jetstream.Msg, workers)
	w.poolStop = make(chan struct{})
	w.acks = make(chan pending, w.cfg.PublishWindow)
	w.audits = make(chan pending, w.cfg.PublishWindow)

	var poolWG, ackWG, bgWG sync.WaitGroup
	if w.archiver != nil {
		w.archiver.futures = make(chan jetstream.PubAckFuture, w.cfg.PublishWindow)
		ackWG.Add(1)
		go func() { defer ackWG.Done(); w.archiveLoop(w.archiver.futures) }()
	}
	// Two ack goroutines: a slow PubAck does not hold up the others.
	for i := 0; i < 2; i++ {
		ackWG.Add(1)
		go func() { defer ackWG.Done(); w.ackLoop(w.acks) }()
	}
	for i := 0; i < workers; i++ {
		poolWG.Add(1)
		go func() { defer poolWG.Done(); w.processLoop() }()
	}

	cc, err := w.consume(cons)
	if err != nil {
		return err
	}
	advCC, err := advCons.Consume(w.handleAdvisory, jetstream.PullMaxMessages(16),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			w.log.Debug("advisory consumer", "err", err)
		}))
	if err != nil {
		cc.Stop()
		return fmt.Errorf("worker: consume advisories: %w", err)
	}

	svc, err := w.startService()
	if err != nil {
		cc.Stop()
		advCC.Stop()
		return err
	}
	// The endpoint's subscription reaches the server with this flush; only
	// then can a request find it, so only then is the worker ready.
	if err := w.nc.Flush(); err != nil {
		w.log.Warn("flush after registering the service", "err", err)
	}
	w.serving.Store(true)
	w.m.Ready.Set(1)

	bgCtx, bgCancel := context.WithCancel(context.Background())
	auditDone := make(chan struct{})
	go func() { defer close(auditDone); w.auditLoop(bgCtx) }()
	bgWG.Add(2)
	go func() { defer bgWG.Done(); w.pollBacklog(bgCtx, cons) }()
	go func() { defer bgWG.Done(); w.watchdog(bgCtx, &cc) }()
	if w.labelCfg != nil {
		bgWG.Add(1)
		go func() { defer bgWG.Done(); w.runLabels(bgCtx) }()
	}

	w.log.Info("worker running", "worker_id", w.id, "stream", w.cfg.Stream, "consumer", w.cfg.Consumer,
		"concurrency", workers, "batch", w.cfg.BatchSize, "score_subject", w.cfg.ScoreSubject, "pass_through", w.cfg.PassThrough)
	<-ctx.Done()

	// Graceful drain.
	start := time.Now()
	deadline := time.NewTimer(w.cfg.DrainTimeout)
	defer deadline.Stop()
	w.draining.Store(true)
	w.m.Ready.Set(0)
	w.log.Info("draining", "deadline", w.cfg.DrainTimeout.String())
	if err := svc.Stop(); err != nil {
		w.log.Warn("stop service", "err", err)
	}
	w.log.Debug("drain: service stopped", "after", time.Since(start).String())
	bgCancel()
	bgWG.Wait()
	<-auditDone
	w.log.Debug("drain: background stopped", "after", time.Since(start).String())
	advCC.Drain()
	cur := cc
	cur.Drain()
	var timedOut bool
	select {
	case <-cur.Closed():
	case <-deadline.C:
		timedOut = true
	}
	w.log.Debug("drain: consumer closed", "after", time.Since(start).String())
	select {
	case <-advCC.Closed():
	case <-time.After(time.Second):
	}
	poolDone := make(chan struct{})
	go func() {
		close(w.poolStop)
		poolWG.Wait()
		close(poolDone)
	}()
	if !timedOut {
		select {
		case <-poolDone:
		case <-deadline.C:
			timedOut = true
		}
	}
	if !timedOut {
		close(w.acks)
		if w.archiver != nil {
			close(w.archiver.futures)
		}
		ackDone := make(chan struct{})
		go func() { ackWG.Wait(); close(ackDone) }()
		select {
		case <-ackDone:
		case <-deadline.C:
			timedOut = true
		}
	}
	if timedOut {
		w.log.Warn("drain deadline passed; unfinished messages will be redelivered", "in_flight", w.inflight.Load(), "after", time.Since(start).Round(time.Millisecond))
		return fmt.Errorf("worker: drain did not finish within %s", w.cfg.DrainTimeout)
	}
	w.log.Info("drained", "after", time.Since(start).Round(time.Millisecond))
	return nil
}

func (w *Worker) consume(cons jetstream.Consumer) (jetstream.ConsumeContext, error) {
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		w.m.Received.Inc()
		w.m.InFlight.Set(float64(w.inflight.Add(1)))
		select {
		case w.work <- msg:
		case <-w.poolStop:
			// Shutting down: left unacked, redelivered after AckWait.
			w.done()
		}
	},
		jetstream.PullMaxMessages(w.cfg.BatchSize),
		jetstream.PullExpiry(w.cfg.PullExpiry),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			kind := "consume"
			switch {
			case errors.Is(err, jetstream.ErrNoHeartbeat):
				kind = "heartbeat"
			case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
				kind = "consumer_gone"
			}
			w.m.ConsumerErrors.WithLabelValues(kind).Inc()
			w.log.Warn("pull consumer", "kind", kind, "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("worker: consume %s/%s: %w", w.cfg.Stream, w.cfg.Consumer, err)
	}
	w.consumeOK.Store(true)
	w.consumerGone.Store(false)
	if !w.draining.Load() && w.serving.Load() {
		w.m.Ready.Set(1)
	}
	return cc, nil
}

// scratch is one goroutine's reusable state.
type scratch struct {
	ev contracts.TransactionEvent
	vd contracts.Verdict
}

func (w *Worker) processLoop() {
	var s scratch
	for {
		select {
		case msg := <-w.work:
			w.process(msg, &s)
		case <-w.poolStop:
			for {
				select {
				case msg := <-w.work:
					w.process(msg, &s)
				default:
					return
				}
			}
		}
	}
}

func (w *Worker) done() {
	w.m.InFlight.Set(float64(w.inflight.Add(-1)))
	w.progress.Store(time.Now().UnixNano())
}

func (w *Worker) process(msg jetstream.Msg, s *scratch) {
	received := time.Now()
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery: nothing to ack.
		w.log.Error("message without JetStream metadata", "subject", maskPANs(msg.Subject()), "err", err)
		w.done()
		return
	}
	data := msg.Data()
	if w.cfg.PassThrough {
		w.passThrough(msg, meta, received)
		return
	}
	sp := w.tracer.Start(msg.Headers(), tracing.Transaction, msg.Subject())
	if len(data) > w.cfg.MaxPayload {
		w.deadLetter(msg, meta, contracts.ReasonTooLarge, fmt.Sprintf("payload of %d bytes exceeds %d", len(data), w.cfg.MaxPayload), "", &sp)
		return
	}
	if err := w.decoder.DecodeEvent(data, &s.ev); err != nil {
		reason := contracts.ReasonMalformed
		var ve *contracts.ValidationError
		if errors.As(err, &ve) {
			reason = string(ve.Kind)
		}
		w.deadLetter(msg, meta, reason, err.Error(), s.ev.TransactionID, &sp)
		return
	}
	if why := cardDataOutsideContract(msg.Subject(), msg.Headers(), data); why != "" {
		w.deadLetter(msg, meta, contracts.ReasonInvalid, why, s.ev.TransactionID, &sp)
		return
	}
	if w.enricher != nil {
		if err := w.enrich(s); err != nil {
			sp.End(tracing.Outcome{TransactionID: s.ev.TransactionID, Error: nakEnrichError})
			w.nak(msg, meta, nakEnrichError)
			return
		}
	}
	if err := w.score(s); err != nil {
		sp.End(tracing.Outcome{TransactionID: s.ev.TransactionID, Error: nakScoreError})
		w.nak(msg, meta, nakScoreError)
		return
	}
	out := w.verdictMsg(&s.vd)
	sp.Inject(out.Header)
	f, err := w.js.PublishMsgAsync(out, w.verdictPubOpts...)
	if err != nil {
		sp.End(tracing.Outcome{TransactionID: s.vd.TransactionID, Error: nakPublishError})
		w.m.ConsumerErrors.WithLabelValues("publish").Inc()
		w.log.Warn("verdict publish failed", "transaction_id", s.vd.TransactionID, "err", err)
		w.nak(msg, meta, nakPublishError)
		return
	}
	sp.End(tracing.Outcome{TransactionID: s.vd.TransactionID, Decision: string(s.vd.Decision), ModelVersion: s.vd.ModelVersion})
	if w.archiver != nil {
		w.archive(msg.Subject(), w.asScored(data, &s.ev), s.vd.TransactionID)
	}
	w.acks <- pending{msg: msg, future: f, decision: s.vd.Decision, model: s.vd.ModelVersion, received: received,
		stamp: meta.Timestamp, txID: s.vd.TransactionID, delivery: meta.NumDelivered}
}

// enrich runs the Enricher on s.ev for both paths (stream and request-reply)
// and logs a failure.
func (w *Worker) enrich(s *scratch) error {
	if err := w.enricher.Enrich(w.enrichCtx, &s.ev); err != nil {
		w.log.Warn("enrichment failed", "transaction_id", s.ev.TransactionID, "err", err)
		return err
	}
	return nil
}

// score scores s.ev into s.vd for both paths (stream and request-reply)
// and records the prediction metrics: on success under the deciding model's
// version, on error under the version the scorer set before failing
// ("unknown" only when no model was there to fail), with the error logged.
func (w *Worker) score(s *scratch) error {
	start := time.Now()
	s.vd.ModelVersion = ""
	if err := w.scorer.Score(&s.ev, &s.vd); err != nil {
		w.m.Predictions.WithLabelValues(cmp.Or(s.vd.ModelVersion, "unknown"), predictionError).Inc()
		w.log.Error("score failed", "transaction_id", s.ev.TransactionID, "model_version", s.vd.ModelVersion, "err", err)
		return err
	}
	w.observePrediction(&s.vd, time.Since(start))
	return nil
}

// hotPath caches what every message of one model version needs: metric
// children (no label lookups per message) and header values.
type hotPath struct {
	model, policy string
	success       prometheus.Counter
	latency       prometheus.Observer
	fraud         prometheus.Counter
	modelHdr      []string
	policyHdr     []string
}

func (w *Worker) hotPathFor(vd *contracts.Verdict) *hotPath {
	if h := w.hot.Load(); h != nil && h.model == vd.ModelVersion && h.policy == vd.PolicyVersion {
		return h
	}
	h := &hotPath{
		model: vd.ModelVersion, policy: vd.PolicyVersion,
		success:  w.m.Predictions.WithLabelValues(vd.ModelVersion, predictionSuccess),
		latency:  w.m.PredictionLatency.WithLabelValues(vd.ModelVersion),
		fraud:    w.m.FraudPredictions.WithLabelValues(vd.ModelVersion),
		modelHdr: []string{vd.ModelVersion}, policyHdr: []string{vd.PolicyVersion},
	}
	w.hot.Store(h)
	return h
}

func (w *Worker) observePrediction(vd *contracts.Verdict, took time.Duration) {
	h := w.hotPathFor(vd)
	h.success.Inc()
	h.latency.Observe(took.Seconds())
	if vd.Decision != contracts.DecisionApprove {
		h.fraud.Inc()
	}
}

// verdictMsg builds the verdict message: subject by decision, Nats-Msg-Id =
// transaction id (JetStream de-duplicates redeliveries), model version header.
// The header values shared by every verdict are built once (hotPath,
// decisionHdr); only the Msg-Id is new per message. The map and the data
// are new per message: the publisher keeps the message for retries.
func (w *Worker) verdictMsg(vd *contracts.Verdict) *nats.Msg {
	h := w.hotPathFor(vd)
	i := vd.Decision.Index()
	return &nats.Msg{
		Subject: w.verdictSubjects[i],
		Data:    vd.AppendJSON(make([]byte, 0, verdictCap(vd))),
		Header: nats.Header{
			contracts.HeaderMsgID:         []string{vd.TransactionID},
			contracts.HeaderModelVersion:  h.modelHdr,
			contracts.HeaderPolicyVersion: h.policyHdr,
			contracts.HeaderDecision:      w.decisionHdr[i],
			contracts.HeaderSchema:        schemaHdr,
		},
	}
}

var schemaHdr = []string{contracts.VerdictSchemaV1}

func (w *Worker) passThrough(msg jetstream.Msg, meta *jetstream.MsgMetadata, received time.Time) {
	id := "seq-" + strconv.FormatUint(meta.Sequence.Stream, 10)
	out := &nats.Msg{
		Subject: w.verdictSubjects[0],
		Data:    []byte(`{"schema_version":"verdict.v1","decision":"approve","pass_through":true}`),
		Header:  nats.Header{contracts.HeaderMsgID: []string{id}},
	}
	f, err := w.js.PublishMsgAsync(out, w.verdictPubOpts...)
	if err != nil {
		w.nak(msg, meta, nakPublishError)
		return
	}
	w.acks <- pending{msg: msg, future: f, decision: contracts.DecisionApprove, model: "pass-through", received: received, stamp: meta.Timestamp, txID: id, delivery: meta.NumDelivered}
}

// ackLoop completes verdict publishes: ack the input on PubAck (a
// duplicate PubAck means the verdict was already stored), NAK with delay on
// failure.
func (w *Worker) ackLoop(ch <-chan pending) {
	debug := w.log.Enabled(context.Background(), slog.LevelDebug)
	for p := range ch {
		if p.dlq != nil {
			w.finishDeadLetter(p)
			continue
		}
		select {
		case ack := <-p.future.Ok():
			now := time.Now()
			if err := p.msg.Ack(); err != nil {
				w.m.ConsumerErrors.WithLabelValues("ack").Inc()
				w.log.Warn("ack failed; the message will be redelivered and de-duplicated", "transaction_id", p.txID, "err", err)
			} else {
				w.m.Acked.Inc()
			}
			w.verdictsStream[p.decision.Index()].Inc()
			w.m.EndToEnd.Observe(now.Sub(p.stamp).Seconds())
			if debug {
				w.log.Debug("verdict stored", "transaction_id", p.txID, "decision", p.decision, "model_version", p.model,
					"duplicate", ack.Duplicate, "verdict_seq", ack.Sequence, "delivery", p.delivery)
			}
			w.done()
		case err := <-p.future.Err():
			w.m.ConsumerErrors.WithLabelValues("puback").Inc()
			w.log.Warn("verdict not stored; NAK with delay", "transaction_id", p.txID, "err", err)
			meta, _ := p.msg.Metadata()
			w.nak(p.msg, meta, nakPubAckError)
		}
	}
}

// auditLoop completes the audit copies of request-reply verdicts. It has its
// own channel, so stream load never delays a reply, and it is never closed
// (a request handler may still be finishing while the service stops).
func (w *Worker) auditLoop(ctx context.Context) {
	for {
		var p pending
		select {
		case <-ctx.Done():
			return
		case p = <-w.audits:
		}
		select {
		case <-p.future.Ok():
			w.verdictsRequest[p.decision.Index()].Inc()
		case err := <-p.future.Err():
			w.m.ConsumerErrors.WithLabelValues("puback").Inc()
			w.log.Warn("audit verdict not stored", "transaction_id", p.txID, "err", err)
		case <-ctx.Done():
			return
		}
	}
}

// nak NAKs with a delay that doubles per delivery: plain Nak would ignore the
// consumer's BackOff and redeliver at once, a hot loop.
func (w *Worker) nak(msg jetstream.Msg, meta *jetstream.MsgMetadata, reason string) {
	delivered := uint64(1)
	if meta != nil {
		delivered = meta.NumDelivered
	}
	if err := msg.NakWithDelay(w.NakDelay(delivered)); err != nil {
		w.log.Warn("nak failed; AckWait will redeliver", "err", err)
	}
	w.m.Naked.WithLabelValues(reason).Inc()
	w.done()
}

// NakDelay is the NAK delay after the given number of deliveries.
func (w *Worker) NakDelay(delivered uint64) time.Duration {
	d := w.cfg.NakDelay
	for i := uint64(1); i < delivered && d < w.cfg.NakDelayMax; i++ {
		d *= 2
	}
	return min(d, w.cfg.NakDelayMax)
}

func (w *Worker) pollBacklog(ctx context.Context, cons jetstream.Consumer) {
	t := time.NewTicker(w.cfg.BacklogPoll)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := cons.Info(qctx)
		cancel()
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			w.consumerGone.Store(true)
			w.m.ConsumerErrors.WithLabelValues("consumer_gone").Inc()
			w.log.Warn("consumer not found; the watchdog will recreate or rebind it", "consumer", w.cfg.Consumer)
		}
		if err == nil {
			w.m.NumPending.Set(float64(info.NumPending))
			w.m.NumAckPending.Set(float64(info.NumAckPending))
			w.m.NumRedelivered.Set(float64(info.NumRedelivered))
		} else if ctx.Err() == nil {
			w.log.Debug("consumer info", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watchdog restarts the consume loop if it closed on its own (for example
// the consumer was deleted and recreated by an operator) and marks the
// worker wedged when it cannot.
func (w *Worker) watchdog(ctx context.Context, cc *jetstream.ConsumeContext) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case <-(*cc).Closed():
		default:
			if !w.consumerGone.Load() {
				continue
			}
			(*cc).Stop()
		}
		if w.draining.Load() {
			return
		}
		w.consumeOK.Store(false)
		w.m.Ready.Set(0)
		w.log.Warn("consume loop closed; restarting")
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var (
			cons jetstream.Consumer
			err  error
		)
		if w.cfg.EnsureTopology {
			cons, err = w.js.CreateOrUpdateConsumer(qctx, w.cfg.Stream, ConsumerConfig(w.cfg))
		} else {
			cons, err = w.js.Consumer(qctx, w.cfg.Stream, w.cfg.Consumer)
		}
		cancel()
		if err == nil {
			var ncc jetstream.ConsumeContext
			if ncc, err = w.consume(cons); err == nil {
				*cc = ncc
				failures = 0
				w.wedged.Store(nil)
				continue
			}
		}
		failures++
		w.log.Error("consume restart failed", "attempt", failures, "err", err)
		if failures >= 10 {
			msg := fmt.Sprintf("consume loop down, %d restarts failed: %v", failures, err)
			w.wedged.Store(&msg)
		}
	}
}

// verdictCap is the initial size of a verdict's JSON buffer: room for a
// verdict without features (about 310 bytes) and about 28 bytes per feature
// carried with FRAUDSCORE_VERDICT_FEATURES, so encoding does not grow it.
func verdictCap(vd *contracts.Verdict) int { return 320 + 32*len(vd.Features) }

// enrichedGoroutinesPerCPU is how many scoring goroutines per CPU
// FRAUDSCORE_CONCURRENCY=0 means when an Enricher is set. Enrichment waits
// on round trips to NATS (velocity: a compare-and-set write per card and
// device key, and a read when the key's state is not guessed), and under
// load each waits in the bucket stream's queue on the server, so few
// goroutines leave the CPUs idle: with velocity on and two goroutines a
// worker scored under a tenth of its backlog rate
// (docs/bench/velocity-first.json), and 16 per CPU still left the CPUs
// partly idle (docs/bench/velocity.json has the backlog at this default,
// docs/bench/velocity-default.json at 16 per CPU). Config.Concurrency's
// help names this number (TestScoringGoroutines checks it).
const enrichedGoroutinesPerCPU = 64

// scoringGoroutines is the number of scoring goroutines: concurrency when
// set, else one per CPU, or enrichedGoroutinesPerCPU per CPU with an
// Enricher, at most maxConcurrency (more than a pull client buffers by
// default would wait idle).
func scoringGoroutines(concurrency, cpus int, enriched bool) int {
	switch {
	case concurrency > 0:
		return concurrency
	case enriched:
		return min(enrichedGoroutinesPerCPU*cpus, maxConcurrency)
	}
	return cpus
}
