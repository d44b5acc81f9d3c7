package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/fraudscore/fraudscore/internal/settings"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/scorer/velocity"
	"github.com/fraudscore/fraudscore/worker"
)

// binaryConfig is the settings of the fraudscore binary itself: logging,
// the side port, the embedded server, the demo and the progress line. The
// worker's and the model lifecycle's settings are beside their owners.
type binaryConfig struct {
	LogLevel         string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	HTTPAddr         string        `envconfig:"HTTP_ADDR" default:":8090" desc:"side port: /metrics, /healthz, /readyz"`
	ProgressInterval time.Duration `envconfig:"PROGRESS_INTERVAL" default:"30s" desc:"log a one-line progress summary (rate, decisions, dead letters, backlog) this often; 0 = never"`
	Embedded         bool          `envconfig:"EMBEDDED" default:"false" desc:"start an embedded NATS JetStream server (local use only)"`
	EmbeddedStoreDir string        `envconfig:"EMBEDDED_STORE_DIR" default:".data/nats" desc:"JetStream store of the embedded server"`
	EmbeddedListen   string        `envconfig:"EMBEDDED_LISTEN" default:"127.0.0.1:4222" desc:"client address of the embedded server"`
	EmbeddedMonitor  string        `envconfig:"EMBEDDED_MONITOR" default:"127.0.0.1:8222" desc:"monitoring address of the embedded server"`
	DemoRate         int           `envconfig:"DEMO_RATE" default:"0" desc:"publish this many synthetic transactions per second (demo)"`
	DemoLabelShare   float64       `envconfig:"DEMO_LABEL_SHARE" default:"0.5" desc:"with FRAUDSCORE_LABELS=true, the demo labels this share of its transactions with their ground truth (source synthetic)"`
	DemoLabelDelay   time.Duration `envconfig:"DEMO_LABEL_DELAY" default:"20s" desc:"how long after a demo transaction its label is published"`
}

func (c *binaryConfig) problems() []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		add("FRAUDSCORE_LOG_LEVEL=%q must be debug, info, warn or error", c.LogLevel)
	}
	if c.DemoLabelShare < 0 || c.DemoLabelShare > 1 {
		add("FRAUDSCORE_DEMO_LABEL_SHARE=%g must be 0..1", c.DemoLabelShare)
	}
	if c.DemoLabelDelay < 0 {
		add("FRAUDSCORE_DEMO_LABEL_DELAY=%s must not be negative", c.DemoLabelDelay)
	}
	if c.DemoRate < 0 {
		add("FRAUDSCORE_DEMO_RATE=%d must not be negative", c.DemoRate)
	}
	if c.ProgressInterval != 0 && c.ProgressInterval < 100*time.Millisecond {
		add("FRAUDSCORE_PROGRESS_INTERVAL=%s must be 0 (no summary) or at least 100ms", c.ProgressInterval)
	}
	return errs
}

// config is every setting of a worker process, one struct per owner.
type config struct {
	bin       binaryConfig
	worker    worker.Config
	lifecycle lifecycle.Config
	labels    worker.LabelConfig
	velocity  velocity.Config
}

// defaultConfig holds every owner's defaults.
func defaultConfig() *config {
	c := &config{worker: worker.DefaultConfig(), lifecycle: lifecycle.DefaultConfig(), labels: worker.DefaultLabelConfig(),
		velocity: velocity.DefaultConfig()}
	settings.SetDefaults(&c.bin)
	return c
}

// sections are the owners' settings sections, in help order.
func (c *config) sections() []settings.Section {
	return []settings.Section{
		{Name: "fraudscore", Config: &c.bin, Validate: c.bin.problems},
		worker.Section(&c.worker),
		lifecycle.Section(&c.lifecycle, func() bool { return !c.worker.PassThrough }),
		worker.LabelSection(&c.labels),
		velocity.Section(&c.velocity),
	}
}

// loadConfig reads every owner's settings from environ with every problem
// at once, and the FRAUDSCORE_* variables none of them reads.
func loadConfig(environ []string) (*config, []settings.UnknownVariable, error) {
	c := defaultConfig()
	unknown, err := settings.Load(environ, c.sections()...)
	if err != nil {
		return nil, unknown, err
	}
	return c, unknown, nil
}
