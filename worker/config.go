package worker

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fraudscore/fraudscore/internal/settings"
)

// EnvPrefix is the prefix of every configuration variable.
const EnvPrefix = settings.Prefix

// maxConcurrency is the most scoring goroutines a worker runs, set
// (FRAUDSCORE_CONCURRENCY) or by default.
const maxConcurrency = 1024

// ErrConfig is returned (wrapped) for invalid configuration.
var ErrConfig = settings.ErrConfig

// Config is the worker's settings (NATS, streams, consumer, request-reply,
// shutdown), read from FRAUDSCORE_* environment variables through package
// settings (`fraudscore worker --help` lists them with their defaults).
// Each field's tags declare its variable (envconfig), its default and its
// description; DefaultConfig fills the defaults. The binary's settings (log
// level, side port, embedded server, demo, progress) and the model
// lifecycle's (model directory, thresholds, challenger) have their own
// structs beside their owners.
type Config struct {
	NATSURL        string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URLs, comma-separated"`
	CredsFile      string        `envconfig:"NATS_CREDS_FILE" desc:"NATS user credentials file (JWT + nkey seed)"`
	NKeyFile       string        `envconfig:"NATS_NKEY_FILE" desc:"NATS nkey seed file"`
	User           string        `envconfig:"NATS_USER" desc:"NATS user name (with NATS_PASSWORD_FILE)"`
	PasswordFile   string        `envconfig:"NATS_PASSWORD_FILE" desc:"file holding the NATS password"`
	TokenFile      string        `envconfig:"NATS_TOKEN_FILE" desc:"file holding the NATS token"`
	CAFile         string        `envconfig:"NATS_CA_FILE" desc:"CA certificate to verify the NATS server (enables TLS)"`
	CertFile       string        `envconfig:"NATS_CERT_FILE" desc:"client certificate for mutual TLS"`
	KeyFile        string        `envconfig:"NATS_KEY_FILE" desc:"client key for mutual TLS"`
	InboxPrefix    string        `envconfig:"NATS_INBOX_PREFIX" desc:"inbox prefix for replies (e.g. _INBOX_fraudscore), so NATS permissions can be narrowed to it"`
	ConnectTimeout time.Duration `envconfig:"NATS_CONNECT_TIMEOUT" default:"5s" desc:"timeout of each connection attempt"`

	EnsureTopology  bool          `envconfig:"ENSURE_TOPOLOGY" default:"true" desc:"create or update streams and the consumer at start; false where they are managed elsewhere"`
	Replicas        int           `envconfig:"STREAM_REPLICAS" default:"1" desc:"replicas of streams and consumers created by the worker (3 on a cluster)"`
	Stream          string        `envconfig:"STREAM" default:"TRANSACTIONS" desc:"input stream (work-queue retention)"`
	Subjects        string        `envconfig:"SUBJECTS" default:"payments.transactions.>" desc:"subjects of the input stream"`
	StreamDupWindow time.Duration `envconfig:"STREAM_DUPLICATE_WINDOW" default:"2m" desc:"duplicate window of the input stream"`
	StreamMaxAge    time.Duration `envconfig:"STREAM_MAX_AGE" default:"168h" desc:"maximum age of unprocessed transactions"`
	Consumer        string        `envconfig:"CONSUMER" default:"fraudscore" desc:"durable pull consumer shared by every replica"`

	VerdictStream    string        `envconfig:"VERDICT_STREAM" default:"VERDICTS" desc:"verdict stream (limits retention)"`
	VerdictPrefix    string        `envconfig:"VERDICT_PREFIX" default:"fraud.verdicts." desc:"verdicts go to <prefix><decision>"`
	VerdictMaxAge    time.Duration `envconfig:"VERDICT_MAX_AGE" default:"168h" desc:"how long verdicts are kept"`
	VerdictMaxBytes  int64         `envconfig:"VERDICT_MAX_BYTES" default:"10737418240" desc:"size limit of the verdict stream in bytes"`
	VerdictDupWindow time.Duration `envconfig:"VERDICT_DUPLICATE_WINDOW" default:"10m" desc:"duplicate window of the verdict stream; must exceed the longest redelivery span"`

	DLQStream       string        `envconfig:"DLQ_STREAM" default:"FRAUD_DLQ" desc:"dead-letter stream"`
	DLQPrefix       string        `envconfig:"DLQ_PREFIX" default:"fraud.dlq." desc:"dead letters go to <prefix><reason>"`
	DLQMaxAge       time.Duration `envconfig:"DLQ_MAX_AGE" default:"720h" desc:"how long dead letters are kept"`
	AdvisoryStream  string        `envconfig:"ADVISORY_STREAM" default:"FRAUD_ADVISORIES" desc:"stream capturing max-deliveries advisories of the consumer"`
	AdvisoryConsumr string        `envconfig:"ADVISORY_CONSUMER" default:"fraudscore-advisories" desc:"durable consumer of the advisory stream"`

	Archive       bool          `envconfig:"ARCHIVE" default:"false" desc:"also store a copy of every scored transaction in the archive stream, for fraudscore policy backtest -from-stream (ADR 0021)"`
	ArchiveStream string        `envconfig:"ARCHIVE_STREAM" default:"ARCHIVE" desc:"archive stream (limits retention, one copy per transaction id)"`
	ArchivePrefix string        `envconfig:"ARCHIVE_PREFIX" default:"fraud.archive." desc:"archived transactions go to <prefix><the input subject after its wildcard prefix>"`
	ArchiveMaxAge time.Duration `envconfig:"ARCHIVE_MAX_AGE" default:"168h" desc:"how long archived transactions are kept"`

	VelocityBucket  string `envconfig:"VELOCITY_BUCKET" default:"VELOCITY" desc:"KV bucket of the velocity state with FRAUDSCORE_VELOCITY=kv (docs/velocity.md): FRAUDSCORE_STREAM_REPLICAS replicas, values kept for the velocity retention after their last write"`
	VelocityStorage string `envconfig:"VELOCITY_STORAGE" default:"file" desc:"storage of the velocity bucket when the worker creates it: file, or memory (faster; the state lives in the servers' memory, kept by the bucket's other replicas while one restarts and lost when all restart at once: docs/velocity.md); fixed once the bucket exists"`

	AckWait       time.Duration   `envconfig:"ACK_WAIT" default:"5s" desc:"consumer AckWait: time to process a delivered message before redelivery"`
	MaxDeliver    int             `envconfig:"MAX_DELIVER" default:"8" desc:"deliveries before a message is dead-lettered"`
	BackOff       []time.Duration `envconfig:"BACKOFF" default:"5s,15s,30s,60s" desc:"consumer redelivery backoff after AckWait expiries (first value replaces AckWait)"`
	NakDelay      time.Duration   `envconfig:"NAK_DELAY" default:"1s" desc:"first delay of a NAK after a transient failure; doubles per delivery"`
	NakDelayMax   time.Duration   `envconfig:"NAK_DELAY_MAX" default:"30s" desc:"largest NAK delay"`
	MaxAckPending int             `envconfig:"MAX_ACK_PENDING" default:"50000" desc:"unacknowledged messages allowed across the whole fleet"`
	Concurrency   int             `envconfig:"CONCURRENCY" default:"0" desc:"scoring goroutines (0 = number of CPUs, or 64 per CPU with an enricher such as FRAUDSCORE_VELOCITY=kv, whose round trips to NATS would leave the CPUs idle)"`
	BatchSize     int             `envconfig:"BATCH_SIZE" default:"1024" desc:"messages buffered by the pull client (counts against MAX_ACK_PENDING)"`
	PullExpiry    time.Duration   `envconfig:"PULL_EXPIRY" default:"5s" desc:"lifetime of one pull request; an idle drain waits at most this long"`
	MaxPayload    int             `envconfig:"MAX_PAYLOAD" default:"65536" desc:"largest accepted transaction payload in bytes"`
	PublishWindow int             `envconfig:"PUBLISH_WINDOW" default:"4096" desc:"verdict publishes awaiting their PubAck"`
	PassThrough   bool            `envconfig:"PASS_THROUGH" default:"false" desc:"benchmark only: skip decoding and scoring, publish a fixed verdict"`

	ScoreSubject  string `envconfig:"SCORE_SUBJECT" default:"fraud.score" desc:"request-reply subject of the score endpoint"`
	ServiceName   string `envconfig:"SERVICE_NAME" default:"fraudscore" desc:"micro service name (nats micro ls)"`
	QueueGroup    string `envconfig:"QUEUE_GROUP" default:"fraudscore" desc:"queue group of the score endpoint"`
	AuditRequests bool   `envconfig:"AUDIT_REQUESTS" default:"true" desc:"also store request-reply verdicts in the verdict stream"`

	DrainTimeout time.Duration `envconfig:"DRAIN_TIMEOUT" default:"20s" desc:"graceful shutdown deadline"`
	BacklogPoll  time.Duration `envconfig:"BACKLOG_POLL" default:"5s" desc:"how often the consumer backlog is read for metrics"`
	StallTimeout time.Duration `envconfig:"STALL_TIMEOUT" default:"2m" desc:"liveness fails when messages are in flight and none completes for this long"`
	WorkerID     string        `envconfig:"WORKER_ID" desc:"worker id in dead letters and logs (default: host name)"`
}

// Validate checks the configuration before anything connects. The error, a
// *ConfigError, lists every problem; each names the variables it concerns.
func (c *Config) Validate() error {
	if p := c.Problems(); len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// Problems lists every rule the configuration breaks, each naming the
// variables it concerns; nil when there is none.
func (c *Config) Problems() []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if strings.TrimSpace(c.NATSURL) == "" {
		add("FRAUDSCORE_NATS_URL is empty (with FRAUDSCORE_EMBEDDED=true the embedded server's URL replaces it)")
	}
	for _, f := range []struct{ name, path string }{
		{"NATS_CREDS_FILE", c.CredsFile}, {"NATS_NKEY_FILE", c.NKeyFile}, {"NATS_PASSWORD_FILE", c.PasswordFile},
		{"NATS_TOKEN_FILE", c.TokenFile}, {"NATS_CA_FILE", c.CAFile}, {"NATS_CERT_FILE", c.CertFile}, {"NATS_KEY_FILE", c.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			add("FRAUDSCORE_%s: %v", f.name, err)
		}
	}
	for _, f := range []struct{ name, path string }{{"NATS_PASSWORD_FILE", c.PasswordFile}, {"NATS_TOKEN_FILE", c.TokenFile}} {
		if f.path == "" {
			continue
		}
		if b, err := os.ReadFile(f.path); err == nil && strings.TrimSpace(string(b)) == "" {
			add("FRAUDSCORE_%s: %s is empty", f.name, f.path)
		}
	}
	n := 0
	for _, set := range []bool{c.CredsFile != "", c.NKeyFile != "", c.User != "" || c.PasswordFile != "", c.TokenFile != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		add("set only one of FRAUDSCORE_NATS_CREDS_FILE, FRAUDSCORE_NATS_NKEY_FILE, FRAUDSCORE_NATS_USER/FRAUDSCORE_NATS_PASSWORD_FILE, FRAUDSCORE_NATS_TOKEN_FILE")
	}
	if (c.User == "") != (c.PasswordFile == "") {
		add("FRAUDSCORE_NATS_USER and FRAUDSCORE_NATS_PASSWORD_FILE go together")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		add("FRAUDSCORE_NATS_CERT_FILE and FRAUDSCORE_NATS_KEY_FILE go together")
	}
	for _, s := range []struct{ name, v string }{
		{"STREAM", c.Stream}, {"CONSUMER", c.Consumer}, {"VERDICT_STREAM", c.VerdictStream},
		{"DLQ_STREAM", c.DLQStream}, {"ADVISORY_STREAM", c.AdvisoryStream}, {"ADVISORY_CONSUMER", c.AdvisoryConsumr},
		{"ARCHIVE_STREAM", c.ArchiveStream},
		{"VELOCITY_BUCKET", c.VelocityBucket},
		{"SERVICE_NAME", c.ServiceName}, {"QUEUE_GROUP", c.QueueGroup},
	} {
		if s.v == "" || strings.ContainsAny(s.v, " .*>\t") {
			add("FRAUDSCORE_%s=%q must be a non-empty name without spaces, dots or wildcards", s.name, s.v)
		}
	}
	if c.InboxPrefix != "" && (strings.ContainsAny(c.InboxPrefix, " \t*>") || strings.HasSuffix(c.InboxPrefix, ".")) {
		add("FRAUDSCORE_NATS_INBOX_PREFIX=%q must be a subject token without wildcards or a trailing dot", c.InboxPrefix)
	}
	for _, s := range []struct{ name, v string }{{"SUBJECTS", c.Subjects}, {"SCORE_SUBJECT", c.ScoreSubject}} {
		if s.v == "" || strings.ContainsAny(s.v, " \t") {
			add("FRAUDSCORE_%s=%q must be a subject", s.name, s.v)
		}
	}
	for _, s := range []struct{ name, v string }{{"VERDICT_PREFIX", c.VerdictPrefix}, {"DLQ_PREFIX", c.DLQPrefix}, {"ARCHIVE_PREFIX", c.ArchivePrefix}} {
		if !strings.HasSuffix(s.v, ".") || strings.ContainsAny(s.v, " *>") || len(s.v) < 2 {
			add("FRAUDSCORE_%s=%q must be a subject prefix ending in a dot", s.name, s.v)
		}
	}
	if _, ok := velocityStorage(c.VelocityStorage); !ok {
		add("FRAUDSCORE_VELOCITY_STORAGE=%q must be file or memory", c.VelocityStorage)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		add("FRAUDSCORE_STREAM_REPLICAS=%d must be 1..5", c.Replicas)
	}
	if c.AckWait < time.Second {
		add("FRAUDSCORE_ACK_WAIT=%s must be at least 1s", c.AckWait)
	}
	if c.MaxDeliver < 2 {
		add("FRAUDSCORE_MAX_DELIVER=%d must be at least 2", c.MaxDeliver)
	}
	if len(c.BackOff) >= c.MaxDeliver {
		add("FRAUDSCORE_BACKOFF has %d values; it needs fewer than FRAUDSCORE_MAX_DELIVER (%d)", len(c.BackOff), c.MaxDeliver)
	}
	for _, d := range c.BackOff {
		if d < time.Second {
			add("FRAUDSCORE_BACKOFF value %s must be at least 1s", d)
		}
	}
	if len(c.BackOff) > 0 && c.BackOff[0] != c.AckWait {
		// The server replaces AckWait with the first BackOff value.
		add("FRAUDSCORE_ACK_WAIT=%s must equal the first FRAUDSCORE_BACKOFF value %s (the server uses BackOff[0] as the AckWait)", c.AckWait, c.BackOff[0])
	}
	if span := c.RedeliverySpan(); c.VerdictDupWindow <= span {
		add("FRAUDSCORE_VERDICT_DUPLICATE_WINDOW=%s must exceed the longest redelivery span %s (FRAUDSCORE_ACK_WAIT/FRAUDSCORE_BACKOFF over FRAUDSCORE_MAX_DELIVER deliveries), or a redelivered transaction could get a second verdict", c.VerdictDupWindow, span)
	}
	if c.NakDelay <= 0 || c.NakDelayMax < c.NakDelay {
		add("FRAUDSCORE_NAK_DELAY=%s and FRAUDSCORE_NAK_DELAY_MAX=%s must be positive and ordered", c.NakDelay, c.NakDelayMax)
	}
	if c.Concurrency < 0 || c.Concurrency > maxConcurrency {
		add("FRAUDSCORE_CONCURRENCY=%d must be 0..%d", c.Concurrency, maxConcurrency)
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		add("FRAUDSCORE_BATCH_SIZE=%d must be 1..10000", c.BatchSize)
	}
	if c.PullExpiry < time.Second || c.PullExpiry > time.Minute {
		add("FRAUDSCORE_PULL_EXPIRY=%s must be 1s..1m", c.PullExpiry)
	}
	if c.MaxAckPending < c.BatchSize {
		add("FRAUDSCORE_MAX_ACK_PENDING=%d must be at least FRAUDSCORE_BATCH_SIZE=%d", c.MaxAckPending, c.BatchSize)
	}
	if c.MaxPayload < 256 || c.MaxPayload > 8<<20 {
		add("FRAUDSCORE_MAX_PAYLOAD=%d must be 256..8388608", c.MaxPayload)
	}
	if c.PublishWindow < 1 {
		add("FRAUDSCORE_PUBLISH_WINDOW=%d must be positive", c.PublishWindow)
	}
	if c.Archive && c.ArchiveMaxAge < time.Hour {
		add("FRAUDSCORE_ARCHIVE_MAX_AGE=%s must be at least 1h", c.ArchiveMaxAge)
	}
	if c.DrainTimeout < time.Second {
		add("FRAUDSCORE_DRAIN_TIMEOUT=%s must be at least 1s", c.DrainTimeout)
	}
	if c.BacklogPoll < 100*time.Millisecond {
		add("FRAUDSCORE_BACKLOG_POLL=%s must be at least 100ms", c.BacklogPoll)
	}
	if c.StallTimeout < c.AckWait {
		add("FRAUDSCORE_STALL_TIMEOUT=%s must be at least FRAUDSCORE_ACK_WAIT=%s", c.StallTimeout, c.AckWait)
	}
	return errs
}

// RedeliverySpan bounds the time between a verdict's first publish and the
// last redelivery that could publish it again: for each of MaxDeliver
// deliveries, the larger of the consumer's AckWait/BackOff and the worker's
// longest NAK delay, plus the longest a delivery can wait for room in the
// publish window and for its PubAck before it is NAKed.
func (c *Config) RedeliverySpan() time.Duration {
	var span time.Duration
	for i := 0; i < c.MaxDeliver; i++ {
		wait := c.AckWait
		if len(c.BackOff) > 0 {
			wait = c.BackOff[min(i, len(c.BackOff)-1)]
		}
		span += max(wait, c.NakDelayMax) + stallWait + c.PublishAckTimeout()
	}
	return span
}

// PublishAckTimeout is how long a verdict or dead letter waits for its
// PubAck: below AckWait, so a lost PubAck is NAKed (and the message
// redelivered with delay) before the server's own redelivery would race it.
func (c *Config) PublishAckTimeout() time.Duration {
	return min(10*time.Second, max(time.Second, c.AckWait-time.Second))
}

// workerID returns the configured id or the host name.
func (c *Config) workerID() string {
	if c.WorkerID != "" {
		return c.WorkerID
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "fraudscore"
}
