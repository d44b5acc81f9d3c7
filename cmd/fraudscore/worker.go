package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/settings"
	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/scorer/velocity"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/tracing"
)

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// defaultGOGC trades memory for CPU: the worker's live heap is a few MiB, so
// collecting at 5x instead of 2x costs some RSS and saves worker CPU per
// verdict (measured when chosen, commit a052aa1; the `tune GOGC=...` rows of
// docs/bench/latest.md compare it today). defaultMemLimit is a soft
// cap that makes the collector work harder before RSS passes the 64 MiB
// budget under full load. GOGC and GOMEMLIMIT in the environment win (the
// Kubernetes Deployment sets GOMEMLIMIT from its memory limit).
const (
	defaultGOGC     = 400
	defaultMemLimit = 48 << 20
)

const workerSummary = `Run a scoring worker: pull transactions from JetStream, publish verdicts and
dead letters, answer score requests, serve /metrics, /healthz and /readyz.
Invalid configuration is reported in full (every problem) with exit status 2
before anything connects. A W3C traceparent on a transaction or request is
carried to its verdict, dead letter and reply; a span per message is exported
over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is
set, sampled by OTEL_TRACES_SAMPLER (docs/contracts.md, "Trace context").`

// workerCommand parses the worker's command line (only -h/--help), reads
// every owner's settings from the environment and runs the worker.
func workerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("worker", "", workerSummary, 0, 0)
	c.more = printVariables
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	cfg, unknown, err := loadConfig(os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "fraudscore: %v\n", err)
		for _, u := range unknown {
			fmt.Fprintf(stderr, "fraudscore: warning: %s\n", u)
		}
		return 2
	}
	if err := runWorker(ctx, cfg, unknown, stderr); err != nil {
		fmt.Fprintf(stderr, "fraudscore: %v\n", err)
		return 1
	}
	return 0
}

// runWorker wires the parts: side port, embedded server, model lifecycle,
// worker, progress line and demo; SIGHUP reloads the models.
func runWorker(ctx context.Context, cfg *config, unknown []settings.UnknownVariable, stderr io.Writer) error {
	log := newLogger(stderr, cfg.bin.LogLevel)
	for _, u := range unknown {
		log.Warn(u.String(), "var", u.Name, "did_you_mean", u.Suggestion)
	}
	// SIGHUP reloads the models; registered first, so it never terminates
	// the process (Go's default) while the models are still loading.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// Span export is off unless the standard OTEL_* variables enable it;
	// W3C trace context is carried either way.
	tracing.LogErrors(log)
	tracer, err := tracing.FromEnv(ctx, "fraudscore", semver(version))
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tracer.Shutdown(sctx); err != nil {
			log.Warn("span export at shutdown", "err", err)
		}
	}()
	if tracer.Exporting() {
		log.Info("exporting a span per message over OTLP/HTTP (OTEL_EXPORTER_OTLP_* variables)")
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemLimit)
	}
	wcfg := &cfg.worker
	reg := prometheus.NewRegistry()
	m := worker.NewMetrics(reg, version, commit)

	var (
		w  atomic.Pointer[worker.Worker]
		lc *lifecycle.Lifecycle
	)
	if !wcfg.PassThrough {
		var err error
		collector := drift.NewCollector()
		reg.MustRegister(collector)
		windows := drift.NewWindows(collector, cfg.lifecycle.DriftWindow)
		lc, err = lifecycle.New(cfg.lifecycle, lifecycle.Options{Registerer: reg, Logger: log, OnServe: m.SetModel,
			Drift: windows})
		if err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.bin.HTTPAddr)
	if err != nil {
		return fmt.Errorf("side port %s: %w", cfg.bin.HTTPAddr, err)
	}
	live := []worker.Checker{func() error {
		if wk := w.Load(); wk != nil {
			return wk.Healthy()
		}
		return nil
	}}
	ready := []worker.Checker{func() error {
		if lc == nil {
			return nil
		}
		return lc.Ready()
	}, func() error {
		if wk := w.Load(); wk != nil {
			return wk.Ready()
		}
		return errors.New("starting")
	}}
	srv := &http.Server{Handler: worker.SideHandler(reg, live, ready), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("side port listening", "addr", ln.Addr().String())

	if cfg.bin.Embedded {
		url, stop, err := startEmbedded(embeddedOptions{StoreDir: cfg.bin.EmbeddedStoreDir, Listen: cfg.bin.EmbeddedListen,
			Monitor: cfg.bin.EmbeddedMonitor, MaxPayload: int32(max(wcfg.MaxPayload, 1<<20))})
		if err != nil {
			return err
		}
		defer stop()
		wcfg.NATSURL = url
		log.Warn("embedded NATS JetStream server started: for local use only", "client_url", wcfg.NATSURL,
			"monitor", cfg.bin.EmbeddedMonitor, "store_dir", cfg.bin.EmbeddedStoreDir)
	}

	bg, cancelBG := context.WithCancel(context.Background())
	var bgWG sync.WaitGroup
	defer func() { cancelBG(); bgWG.Wait() }()
	if lc != nil {
		bgWG.Add(2)
		go func() { defer bgWG.Done(); lc.Run(bg) }()
		go func() {
			defer bgWG.Done()
			for {
				select {
				case <-bg.Done():
					return
				case <-hup:
					lc.Reload()
				}
			}
		}()
		// No worker before a champion (and, with FRAUDSCORE_RULES=on, a
		// rule set): it would only NAK. Run retries what was refused every
		// FRAUDSCORE_MODEL_RELOAD_INTERVAL.
		if err := lc.Ready(); err != nil {
			log.Error("not ready until the champion model (and with FRAUDSCORE_RULES=on a rule set) loads: fix models/latest or policies/latest, or send SIGHUP",
				"model_dir", cfg.lifecycle.ModelDir, "policy_dir", cfg.lifecycle.PolicyDir, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-lc.Loaded():
		}
	}

	nc, err := worker.Connect(wcfg, "fraudscore-worker", log, m)
	if err != nil {
		return err
	}
	defer nc.Close()
	opts := worker.Options{Config: wcfg, Conn: nc, Metrics: m, Logger: log, Version: semver(version), Tracer: tracer,
		Labels: &cfg.labels}
	if lc != nil {
		opts.Scorer = lc
		opts.Decoder = &contracts.Validator{MaxBytes: wcfg.MaxPayload}
		if opts.Enricher, err = newVelocity(ctx, nc, cfg, reg, m, log); err != nil {
			return err
		}
	}
	wk, err := worker.New(opts)
	if err != nil {
		return err
	}
	w.Store(wk)
	progress := &worker.Progress{Metrics: m, Logger: log, Every: cfg.bin.ProgressInterval}
	if cfg.bin.DemoRate > 0 {
		d := &demo{nc: nc, cfg: wcfg, rate: cfg.bin.DemoRate, log: log}
		if cfg.labels.Enabled && cfg.bin.DemoLabelShare > 0 {
			d.labels = newDemoLabels(cfg.labels.Prefix, cfg.bin.DemoLabelShare, cfg.bin.DemoLabelDelay, cfg.bin.DemoRate)
		}
		progress.Extra = d.fields
		bgWG.Add(1)
		go func() { defer bgWG.Done(); d.run(bg) }()
	}
	bgWG.Add(1)
	go func() { defer bgWG.Done(); progress.Run(bg) }()
	runErr := wk.Run(ctx)
	cancelBG()
	bgWG.Wait()
	if err := drainConn(nc, wcfg.DrainTimeout); err != nil {
		log.Warn("connection drain", "err", err)
	}
	log.Info("stopped")
	return runErr
}

// newVelocity returns the velocity Enricher with FRAUDSCORE_VELOCITY=kv
// (its state in the velocity bucket, opened or created here), nil when
// velocity is off.
func newVelocity(ctx context.Context, nc *nats.Conn, cfg *config, reg prometheus.Registerer, m *worker.Metrics, log *slog.Logger) (worker.Enricher, error) {
	if !cfg.velocity.Enabled() {
		return nil, nil
	}
	// The largest state the settings can write: a card's (its entries are
	// larger than a device's).
	lim := worker.VelocityLimits{TTL: cfg.velocity.Retention(),
		MaxValue: velocity.CardStateBytes(cfg.velocity.MaxEntries, cfg.velocity.MaxDevicesPerCard)}
	bucket, err := worker.OpenVelocityBucket(ctx, nc, &cfg.worker, lim, worker.VelocityBucketOptions{Metrics: m, Logger: log})
	if err != nil {
		return nil, err
	}
	v, err := velocity.New(bucket, cfg.velocity, velocity.Options{Registerer: reg, Logger: log})
	if err != nil {
		return nil, err
	}
	log.Info("velocity aggregates computed from the KV bucket", "bucket", bucket.Bucket(), "retention", lim.TTL.String(),
		"lateness", cfg.velocity.Lateness.String(), "prefer", cfg.velocity.Prefer)
	return v, nil
}

var semverRe = regexp.MustCompile(`^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$`)

// semver returns the build version in the SemVer form the micro service
// needs: v1.2.3 becomes 1.2.3; anything else (a commit, "dev") becomes
// 0.0.0-dev.<sanitized>.
func semver(v string) string {
	if m := semverRe.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	clean := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return '-'
	}, v)
	return "0.0.0-dev." + clean
}
