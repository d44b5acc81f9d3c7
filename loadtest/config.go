// Package loadtest drives a running fraudscore deployment with synthetic
// transactions from the seeded generator shared with training, and measures
// what comes back: throughput, end-to-end latency (from each transaction's
// intended send time, so a slow system cannot hide its queueing: no
// coordinated omission), missing and duplicate verdicts, dead letters, and
// the decision mix against the generator's ground truth.
//
// Two modes: ModeStream publishes to JetStream, probes latency on the verdict
// subjects (or the verdict stream), and after the drain checks by
// transaction id what the verdict and dead-letter streams stored
// (VerifyStored: exactly one verdict per transaction, exactly one dead letter
// per poison message); ModeRequest calls the request-reply score
// endpoint with a configurable concurrency. Both run open loop at a fixed rate
// or as fast as possible, are bounded in count and time, and refuse
// non-loopback servers unless AllowRemote is set.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fraudscore/fraudscore/contracts"
)

// Modes of a run.
const (
	// ModeStream publishes transactions to the input stream and matches the
	// verdicts the workers store.
	ModeStream = "stream"
	// ModeRequest sends transactions to the request-reply score endpoint.
	ModeRequest = "request"
)

// Verdict sources of ModeStream.
const (
	// VerdictsCore probes latency with a core subscription to the verdict
	// subjects: the cheapest, and it sees every publish (a re-published
	// verdict that JetStream de-duplicated shows as a duplicate delivery).
	// It proves a verdict was published, not stored: what was stored is
	// checked after the drain (Report.Stored).
	VerdictsCore = "core"
	// VerdictsStream probes latency with an ordered consumer on the verdict
	// stream (headers only): arrival there means stored.
	VerdictsStream = "stream"
)

// ErrConfig is returned (wrapped) for an invalid configuration.
var ErrConfig = errors.New("loadtest: invalid configuration")

// ErrRemote is returned (wrapped) for a server URL that is not on this
// machine while AllowRemote is false.
var ErrRemote = errors.New("loadtest: refusing a non-loopback server (set AllowRemote / -allow-remote)")

// Limits that keep every run bounded.
const (
	// DefaultMaxDuration is the hard cap on a run, sending and draining.
	DefaultMaxDuration = 10 * time.Minute
	// MaxMessages is the largest number of transactions one run sends.
	MaxMessages = 20_000_000
	// maxRateGuess sizes the bookkeeping of a duration-bounded run at full
	// speed: no run on one machine exceeds this rate.
	maxRateGuess = 400_000
)

// Config configures a run. The zero value of every field but URL has a
// sensible default (see Normalize).
type Config struct {
	// URL is the NATS server URL (comma-separated for several).
	URL string
	// Connect, when set, opens each of the run's NATS connections (name is
	// the connection's name), so a run can reach a secured server: the load
	// tester's command sets it to worker.Connect with the worker's
	// connection settings (credentials files, TLS). Nil connects to URL
	// without credentials. URL must name the servers Connect dials: it is
	// checked (CheckURL) either way.
	Connect func(name string) (*nats.Conn, error)
	// AllowRemote permits servers that are not on a loopback address.
	AllowRemote bool
	// Mode is ModeStream (default) or ModeRequest.
	Mode string
	// Rate is the open-loop send rate per second; 0 sends as fast as the
	// publish window (stream) or the concurrency (request) allows.
	Rate float64
	// Count is the number of transactions to send; 0 means Rate x Duration,
	// or as many as fit in Duration at full speed.
	Count int
	// Duration bounds the sending phase; 0 means until Count is sent.
	Duration time.Duration
	// MaxDuration is the hard cap on the whole run (default 10m).
	MaxDuration time.Duration
	// Drain is how long to wait without any new verdict, after the last
	// send, before declaring the rest missing (default 10s).
	Drain time.Duration
	// Window bounds the async publishes awaiting their PubAck (default 1024).
	Window int
	// Concurrency is the number of requests in flight in ModeRequest
	// (default 16).
	Concurrency int
	// RequestTimeout bounds one request (default 5s).
	RequestTimeout time.Duration
	// Seed seeds the synthetic generator (default 1).
	Seed uint64
	// FraudRate overrides the generator's fraud rate (default: its own).
	FraudRate float64
	// PopulationCards, above 0, generates the traffic in the synthetic
	// generator's population mode (synthetic.Population) over that many
	// cards: raw events without upstream aggregates from cards and devices
	// that pay again and again, stamped by the generator's simulated clock
	// instead of the wall clock. 0: the default mode (a random card token
	// per event, upstream aggregates on most).
	PopulationCards int
	// RunID makes transaction ids unique per run: ids are
	// "lt-<RunID>-<n>". Default: the start time in base 36.
	RunID string
	// Subject is the subject transactions are published to.
	Subject string
	// ScoreSubject is the request-reply subject.
	ScoreSubject string
	// VerdictPrefix is the verdict subject prefix (verdicts go to
	// <prefix><decision>).
	VerdictPrefix string
	// DLQPrefix is the dead-letter subject prefix.
	DLQPrefix string
	// InputStream is the input stream the workers consume; the run waits for
	// it to exist before sending.
	InputStream string
	// VerdictStream and DLQStream are the streams whose stored messages a
	// ModeStream run checks, by transaction id, after the drain (see
	// VerifyStored).
	VerdictStream string
	DLQStream     string
	// Verdicts is the latency probe's source: VerdictsCore (default) or
	// VerdictsStream. Integrity never comes from the probe.
	Verdicts string
	// PoisonEvery makes every PoisonEvery-th transaction invalid (a negative
	// amount): the workers must dead-letter it, and the stored check expects
	// exactly one dead letter for it and no verdict. 0: none.
	PoisonEvery int
	// PassThrough matches verdicts of a worker in pass-through mode, whose
	// verdicts carry "seq-<input stream sequence>" instead of the
	// transaction id: the run maps sequences from its PubAcks.
	PassThrough bool
	// NoMsgID omits Nats-Msg-Id on published transactions (default: set it
	// to the transaction id, as a payment system should).
	NoMsgID bool
	// AfterSend, when set, runs after the sending phase and before the
	// drain (ModeStream). The bench starts the workers there to measure how
	// fast they clear a preloaded backlog (Report.BacklogThroughput).
	AfterSend func(context.Context) error
	// Measured, when set, is called when the measured phase ends (after the
	// drain, before the stored check), so a caller can sample CPU time of
	// the run alone.
	Measured func()
	// Store tunes the stored check's waits (its stream names and sequences
	// come from the run).
	Store StoreCheck
	// Progress receives a progress line every second; nil for none.
	Progress io.Writer
	// Logger logs the run's events; nil discards them.
	Logger *slog.Logger
}

// Normalize fills defaults and validates c.
func (c *Config) Normalize() error {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.Mode == "" {
		c.Mode = ModeStream
	}
	if c.Verdicts == "" {
		c.Verdicts = VerdictsCore
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Subject, contracts.SubjectTransactionsPrefix+"loadtest")
	def(&c.ScoreSubject, contracts.SubjectScore)
	def(&c.VerdictPrefix, contracts.SubjectVerdictsPrefix)
	def(&c.DLQPrefix, contracts.SubjectDeadLettersPrefix)
	def(&c.InputStream, "TRANSACTIONS")
	def(&c.VerdictStream, "VERDICTS")
	def(&c.DLQStream, "FRAUD_DLQ")
	if c.MaxDuration <= 0 {
		c.MaxDuration = DefaultMaxDuration
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.Window <= 0 {
		c.Window = 1024
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.PopulationCards < 0 {
		add("population cards %d: want 0 (default mode) or more", c.PopulationCards)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch c.Mode {
	case ModeStream, ModeRequest:
	default:
		add("mode %q must be %s or %s", c.Mode, ModeStream, ModeRequest)
	}
	switch c.Verdicts {
	case VerdictsCore, VerdictsStream:
	default:
		add("verdicts %q must be %s or %s", c.Verdicts, VerdictsCore, VerdictsStream)
	}
	if c.Mode == ModeRequest && c.PassThrough {
		add("pass-through workers do not answer requests")
	}
	if c.PoisonEvery < 0 || (c.PoisonEvery > 0 && (c.PassThrough || c.Mode == ModeRequest)) {
		add("poison-every %d must be 0, or positive in stream mode without pass-through (pass-through workers do not validate)", c.PoisonEvery)
	}
	if c.Rate < 0 || c.Rate > 10_000_000 {
		add("rate %g must be 0 (as fast as possible) or a positive rate", c.Rate)
	}
	if c.Count < 0 || c.Count > MaxMessages {
		add("count %d must be 0..%d", c.Count, MaxMessages)
	}
	if c.Duration < 0 {
		add("duration %s must not be negative", c.Duration)
	}
	if c.Count == 0 && c.Duration == 0 {
		add("set a count or a duration: a run is always bounded")
	}
	if c.Duration > c.MaxDuration {
		add("duration %s exceeds the hard cap %s", c.Duration, c.MaxDuration)
	}
	if c.Concurrency > 4096 {
		add("concurrency %d must be at most 4096", c.Concurrency)
	}
	if c.Window > 1_000_000 {
		add("window %d must be at most 1000000", c.Window)
	}
	if c.RunID != "" && !validRunID(c.RunID) {
		add("run id %q must be 1..24 characters of [a-z0-9] without a run of 13 digits", c.RunID)
	}
	for _, s := range []struct{ name, v string }{{"verdict prefix", c.VerdictPrefix}, {"dlq prefix", c.DLQPrefix}} {
		if !strings.HasSuffix(s.v, ".") || strings.ContainsAny(s.v, " *>") {
			add("%s %q must be a literal subject prefix ending in a dot", s.name, s.v)
		}
	}
	if err := CheckURL(c.URL, c.AllowRemote); err != nil {
		if errors.Is(err, ErrRemote) {
			return err
		}
		add("%v", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(errs, "; "))
	}
	return nil
}

// total is the number of transactions the run may send.
func (c *Config) total() int {
	switch {
	case c.Count > 0:
		return c.Count
	case c.Rate > 0:
		return min(MaxMessages, int(c.Rate*c.Duration.Seconds())+1)
	default:
		return min(MaxMessages, int(maxRateGuess*c.Duration.Seconds())+1)
	}
}

// CheckURL checks that every server in a comma-separated NATS URL list is
// on a loopback address (127.0.0.0/8, ::1 or localhost), unless allowRemote.
func CheckURL(urls string, allowRemote bool) error {
	if strings.TrimSpace(urls) == "" {
		return errors.New("empty NATS URL")
	}
	for _, raw := range strings.Split(urls, ",") {
		raw = strings.TrimSpace(raw)
		if !strings.Contains(raw, "://") {
			raw = "nats://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("NATS URL %q: %w", raw, err)
		}
		host := u.Hostname()
		if host == "" {
			return fmt.Errorf("NATS URL %q has no host", raw)
		}
		if allowRemote {
			continue
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			continue
		}
		return fmt.Errorf("%w: %s", ErrRemote, host)
	}
	return nil
}

// validRunID accepts short lower-case alphanumeric ids with no run of 13 or
// more digits (contracts reject PAN-like values in transaction ids).
func validRunID(s string) bool {
	if len(s) == 0 || len(s) > 24 {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if digits >= 13 {
				return false
			}
		case c >= 'a' && c <= 'z':
			digits = 0
		default:
			return false
		}
	}
	return true
}
