package worker

import (
	"fmt"
	"strings"
	"time"

	"github.com/fraudscore/fraudscore/internal/settings"
)

// LabelConfig is the settings of the label join (ADR 0020, docs/labels.md):
// the LABELS stream, its durable consumer, the verdict index and the label
// state buckets, the horizon. Off by default: a worker under a
// least-privilege user needs the rights the join uses (deploy/nats grants
// them only where labels are switched on).
type LabelConfig struct {
	Enabled          bool          `envconfig:"LABELS" default:"false" desc:"join labels (fraud.labels.<source>) with verdicts and export fraudscore_labelled_decisions_total; creates the label stream and the two buckets when FRAUDSCORE_ENSURE_TOPOLOGY is true"`
	Stream           string        `envconfig:"LABEL_STREAM" default:"LABELS" desc:"label stream (limits retention, kept for the horizon)"`
	Prefix           string        `envconfig:"LABEL_PREFIX" default:"fraud.labels." desc:"labels are published on <prefix><source>"`
	Consumer         string        `envconfig:"LABEL_CONSUMER" default:"fraudscore-labels" desc:"durable consumer of the label stream shared by every replica"`
	IndexConsumer    string        `envconfig:"VERDICT_INDEX_CONSUMER" default:"fraudscore-verdict-index" desc:"durable consumer of the verdict stream that fills the verdict index"`
	IndexBucket      string        `envconfig:"VERDICT_INDEX_BUCKET" default:"VERDICT_INDEX" desc:"KV bucket: transaction id -> model version, rule and decision of its verdict, kept for the horizon"`
	IndexConcurrency int           `envconfig:"VERDICT_INDEX_CONCURRENCY" default:"8" desc:"verdicts written to the verdict index at the same time by each worker"`
	StateBucket      string        `envconfig:"LABEL_STATE_BUCKET" default:"LABEL_STATE" desc:"KV bucket: transaction id -> first label joined, kept for the horizon"`
	Horizon          time.Duration `envconfig:"LABEL_HORIZON" default:"4320h" desc:"how late a label may arrive after its verdict (180 days): retention of the label stream and both buckets"`
	VerdictWait      time.Duration `envconfig:"LABEL_VERDICT_WAIT" default:"10m" desc:"how long a label whose verdict is not indexed yet is retried before it counts as unknown"`
	RetryDelay       time.Duration `envconfig:"LABEL_RETRY_DELAY" default:"5s" desc:"delay between two tries of a label waiting for its verdict"`
}

// LabelSection returns the label join's settings section for settings.Load.
func LabelSection(c *LabelConfig) settings.Section {
	return settings.Section{Name: "labels", Config: c, Validate: c.Problems}
}

// DefaultLabelConfig returns the label settings with no variable set.
func DefaultLabelConfig() LabelConfig {
	var c LabelConfig
	settings.SetDefaults(&c)
	return c
}

// Problems lists every rule the label settings break; nil when none.
func (c *LabelConfig) Problems() []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	for _, s := range []struct{ name, v string }{
		{"LABEL_STREAM", c.Stream}, {"LABEL_CONSUMER", c.Consumer}, {"VERDICT_INDEX_CONSUMER", c.IndexConsumer},
		{"VERDICT_INDEX_BUCKET", c.IndexBucket}, {"LABEL_STATE_BUCKET", c.StateBucket},
	} {
		if s.v == "" || strings.ContainsAny(s.v, " .*>\t") {
			add("FRAUDSCORE_%s=%q must be a non-empty name without spaces, dots or wildcards", s.name, s.v)
		}
	}
	if !strings.HasSuffix(c.Prefix, ".") || strings.ContainsAny(c.Prefix, " *>") || len(c.Prefix) < 2 {
		add("FRAUDSCORE_LABEL_PREFIX=%q must be a subject prefix ending in a dot", c.Prefix)
	}
	if c.IndexConcurrency < 1 || c.IndexConcurrency > 256 {
		add("FRAUDSCORE_VERDICT_INDEX_CONCURRENCY=%d must be 1..256", c.IndexConcurrency)
	}
	if c.Horizon < time.Hour {
		add("FRAUDSCORE_LABEL_HORIZON=%s must be at least 1h", c.Horizon)
	}
	if c.VerdictWait < time.Second || c.VerdictWait > c.Horizon {
		add("FRAUDSCORE_LABEL_VERDICT_WAIT=%s must be at least 1s and at most FRAUDSCORE_LABEL_HORIZON", c.VerdictWait)
	}
	if c.RetryDelay < 10*time.Millisecond || c.RetryDelay > c.VerdictWait {
		add("FRAUDSCORE_LABEL_RETRY_DELAY=%s must be at least 10ms and at most FRAUDSCORE_LABEL_VERDICT_WAIT", c.RetryDelay)
	}
	return errs
}
