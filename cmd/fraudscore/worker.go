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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/embedded"
)

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// modelHolder loads the latest model version, keeps it current when the
// latest link moves (promote, rollback) or on SIGHUP, and reports readiness.
type modelHolder struct {
	store   *modelstore.Store
	opts    scorer.Options
	m       *worker.Metrics
	log     *slog.Logger
	sc      atomic.Pointer[scorer.Scorer]
	lastErr atomic.Pointer[string]
	version string
	refused string // the latest target last refused; not retried until it moves
}

func (h *modelHolder) load() error {
	// Read the link once: the version refused is the version tried, even if
	// latest moves while the checks run.
	v, err := h.store.Latest()
	refuse := func(err error) error {
		h.m.ModelLoadFailure.Inc()
		msg := err.Error()
		h.lastErr.Store(&msg)
		h.refused = v
		return err
	}
	if err != nil {
		return refuse(err)
	}
	l, err := h.store.Load(v)
	if err != nil {
		return refuse(err)
	}
	if cur := h.sc.Load(); cur != nil {
		if err := cur.Swap(l); err != nil {
			return refuse(err)
		}
	} else {
		sc, err := scorer.New(l, h.opts)
		if err != nil {
			return refuse(err)
		}
		h.sc.Store(sc)
	}
	h.refused = ""
	h.version = l.Version
	h.m.SetModel(l.Version)
	h.m.ModelLoadTime.Set(float64(l.LoadedAt.Unix()))
	h.m.ModelCreatedTime.Set(float64(l.Meta.CreatedAt.Unix()))
	h.lastErr.Store(nil)
	pol := h.sc.Load().Policy()
	h.log.Info("model loaded", "model_version", l.Version, "trees", l.Model.NumTrees(), "features", l.Extractor.Len(),
		"policy_version", pol.Version, "review", pol.Review, "decline", pol.Decline)
	return nil
}

// watch reloads when the latest link changes or on SIGHUP. A version that
// fails its checks is refused: the worker keeps the model it has (or stays
// not ready if it has none).
func (h *modelHolder) watch(ctx context.Context, hup <-chan os.Signal, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case <-t.C:
			// Reload only when latest moves: to a version other than the one
			// in use and other than the one last refused.
			if v, err := h.store.Latest(); err == nil && (v == h.version || v == h.refused) {
				continue
			}
		}
		if err := h.load(); err != nil {
			h.log.Error("model refused; keeping the current model", "current_model_version", h.version, "err", err)
		}
	}
}

func (h *modelHolder) ready() error {
	if h.sc.Load() == nil {
		if p := h.lastErr.Load(); p != nil {
			return fmt.Errorf("no model: %s", *p)
		}
		return errors.New("no model loaded")
	}
	return nil
}

// Score implements worker.Scorer with the current model.
func (h *modelHolder) Score(ev *contracts.TransactionEvent, vd *contracts.Verdict) error {
	sc := h.sc.Load()
	if sc == nil {
		return scorer.ErrNoModel
	}
	return sc.Score(ev, vd)
}

// defaultGOGC trades memory for CPU: the worker's live heap is a few MiB, so
// collecting at 5x instead of 2x costs ~20 MiB of RSS and saves ~16% of the
// worker's CPU per verdict (docs/perf-notes.md). defaultMemLimit is a soft
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
before anything connects.`

// workerCommand parses the worker's command line (only -h/--help), reads
// the configuration from the environment and runs the worker.
func workerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("worker", "", workerSummary, 0, 0)
	c.more = printVariables
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	cfg, unknown, err := worker.LoadConfig(os.Environ())
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

func runWorker(ctx context.Context, cfg *worker.Config, unknown []worker.UnknownVariable, stderr io.Writer) error {
	log := newLogger(stderr, cfg.LogLevel)
	for _, u := range unknown {
		log.Warn(u.String(), "var", u.Name, "did_you_mean", u.Suggestion)
	}
	// SIGHUP reloads the model; registered first, so it never terminates
	// the process (Go's default) while the model is still loading.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemLimit)
	}
	reg := prometheus.NewRegistry()
	m := worker.NewMetrics(reg, version, commit)

	var w atomic.Pointer[worker.Worker]
	holder := &modelHolder{store: modelstore.Open(cfg.ModelDir), m: m, log: log,
		opts: scorer.Options{Review: cfg.ReviewThreshold, Decline: cfg.DeclineThreshold}}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("side port %s: %w", cfg.HTTPAddr, err)
	}
	live := []worker.Checker{func() error {
		if wk := w.Load(); wk != nil {
			return wk.Healthy()
		}
		return nil
	}}
	ready := []worker.Checker{func() error {
		if cfg.PassThrough {
			return nil
		}
		return holder.ready()
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

	if cfg.Embedded {
		ns, err := embedded.Start(embedded.Options{StoreDir: cfg.EmbeddedStoreDir, Listen: cfg.EmbeddedListen,
			Monitor: cfg.EmbeddedMonitor, MaxPayload: int32(max(cfg.MaxPayload, 1<<20))})
		if err != nil {
			return err
		}
		defer ns.Shutdown()
		cfg.NATSURL = ns.ClientURL()
		log.Warn("embedded NATS JetStream server started: for local use only", "client_url", cfg.NATSURL,
			"monitor", cfg.EmbeddedMonitor, "store_dir", cfg.EmbeddedStoreDir)
	}

	if !cfg.PassThrough {
		for {
			err := holder.load()
			if err == nil {
				break
			}
			log.Error("model refused; not ready, retrying in 10s (fix models/latest or send SIGHUP)", "model_dir", cfg.ModelDir, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
			case <-time.After(10 * time.Second):
			}
		}
	}
	bg, cancelBG := context.WithCancel(context.Background())
	var bgWG sync.WaitGroup
	defer func() { cancelBG(); bgWG.Wait() }()
	if !cfg.PassThrough {
		bgWG.Add(1)
		go func() { defer bgWG.Done(); holder.watch(bg, hup, 10*time.Second) }()
	}

	nc, err := worker.Connect(cfg, "fraudscore-worker", log, m)
	if err != nil {
		return err
	}
	defer nc.Close()
	opts := worker.Options{Config: cfg, Conn: nc, Metrics: m, Logger: log, Version: semver(version)}
	if !cfg.PassThrough {
		opts.Scorer = holder
		opts.Decoder = &contracts.Validator{MaxBytes: cfg.MaxPayload}
	}
	wk, err := worker.New(opts)
	if err != nil {
		return err
	}
	w.Store(wk)
	progress := &worker.Progress{Metrics: m, Logger: log, Every: cfg.ProgressInterval}
	if cfg.DemoRate > 0 {
		d := &demo{nc: nc, cfg: cfg, log: log}
		progress.Extra = d.fields
		bgWG.Add(1)
		go func() { defer bgWG.Done(); d.run(bg) }()
	}
	bgWG.Add(1)
	go func() { defer bgWG.Done(); progress.Run(bg) }()
	runErr := wk.Run(ctx)
	cancelBG()
	bgWG.Wait()
	if err := drainConn(nc, cfg.DrainTimeout); err != nil {
		log.Warn("connection drain", "err", err)
	}
	log.Info("stopped")
	return runErr
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
