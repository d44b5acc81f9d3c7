package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

// Drift keeps the drift windows of the served versions (package
// scorer/drift behind a small interface, so that the lifecycle does not
// depend on how the windows are exported). Start is called when a version
// starts serving and returns the observer of its scored rows, or an error
// (no baseline: logged once, no window); Stop when it stops serving.
type Drift interface {
	Start(l *modelstore.Loaded) (scorer.RowObserver, error)
	Stop(version string)
}

// Options are a Lifecycle's collaborators.
type Options struct {
	// Registerer receives the model metrics (required).
	Registerer prometheus.Registerer
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// OnServe, optional, is called with each version that starts serving
	// (the worker creates its per-version series at 0).
	OnServe func(version string)
	// Drift, optional, keeps a drift window per served version.
	Drift Drift
	// Now is the scorers' clock (default time.Now).
	Now func() time.Time
}

// Lifecycle serves the champion and the optional challenger. Create it
// with New, keep it current with Run, and score through Score. It is safe
// for concurrent use.
type Lifecycle struct {
	cfg   Config
	store *modelstore.Store
	opts  Options
	log   *slog.Logger
	m     *metrics
	split uint64 // challenger share threshold in split mode (shareThreshold); 0 in shadow mode
	cur   atomic.Pointer[serving]

	mu sync.Mutex // serializes loads; guards the fields below
	// refused is the target last refused per link; it is not retried
	// until the link moves (or on Reload).
	refused [2]string
	lastErr atomic.Pointer[string]
	ready   chan struct{} // closed when a champion is first loaded (and, with FRAUDSCORE_RULES=on, a rule set)
	once    sync.Once

	// hook, for tests (export_test.go), runs before each model scores and
	// may fail or panic in its place.
	hook func(version string) error

	// Analyst rules (ADR 0016): the policy store, the set in use (nil
	// without one), the target last refused (under mu), the metrics and
	// the pooled per-call work.
	policies     *rules.Store
	rules        atomic.Pointer[ruleSet]
	rulesRefused string
	rulesErr     atomic.Pointer[string] // why the last set was refused
	rm           *ruleMetrics
	ruleWork     sync.Pool
}

// Link indexes of Lifecycle.refused.
const (
	championLink = iota
	challengerLink
)

// serving is the set of served models, swapped as a whole.
type serving struct {
	champion   *model
	challenger *model                    // nil without a challenger
	decisions  *[3][3]prometheus.Counter // [champion][challenger] decision, nil without a challenger
}

// New returns a lifecycle serving the store at cfg.ModelDir and makes a
// first load attempt (a refused champion is logged, counted and retried by
// Run). It returns an error only for invalid settings.
func New(cfg Config, opts Options) (*Lifecycle, error) {
	if p := cfg.Problems(); len(p) > 0 {
		return nil, fmt.Errorf("lifecycle: %w: %v", ErrSettings, p)
	}
	if opts.Registerer == nil {
		return nil, fmt.Errorf("lifecycle: a Registerer is required: %w", ErrSettings)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Lifecycle{cfg: cfg, store: modelstore.Open(cfg.ModelDir), opts: opts, log: opts.Logger,
		m: newMetrics(opts.Registerer), ready: make(chan struct{}),
		policies: rules.OpenStore(cfg.PolicyDir), rm: newRuleMetrics(opts.Registerer)}
	if cfg.ChallengerMode == ModeSplit {
		l.split = shareThreshold(cfg.ChallengerShare)
	}
	l.refresh(true)
	return l, nil
}

// ErrSettings is returned (wrapped) by New for invalid settings.
var ErrSettings = errors.New("lifecycle: invalid settings")

// Store returns the model store served.
func (l *Lifecycle) Store() *modelstore.Store { return l.store }

// Run checks the links (models and rule set) every ReloadInterval until
// ctx ends, reloading a link that moved, and retrying the champion while
// none is loaded.
func (l *Lifecycle) Run(ctx context.Context) {
	t := time.NewTicker(l.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.refresh(false)
		}
	}
}

// Reload reloads every link now (champion, challenger, rule set), even a
// version refused before (SIGHUP).
func (l *Lifecycle) Reload() { l.refresh(true) }

// Ready returns nil once a champion is loaded and, with
// FRAUDSCORE_RULES=on, a rule set; the challenger never blocks readiness.
func (l *Lifecycle) Ready() error {
	if l.cur.Load() == nil {
		if p := l.lastErr.Load(); p != nil {
			return fmt.Errorf("no model: %s", *p)
		}
		return errors.New("no model loaded")
	}
	return l.rulesReady()
}

// Loaded is closed when the lifecycle first becomes ready: a champion is
// loaded (and, with FRAUDSCORE_RULES=on, a rule set).
func (l *Lifecycle) Loaded() <-chan struct{} { return l.ready }

// markReady closes Loaded once everything Ready needs is there. The
// caller holds l.mu.
func (l *Lifecycle) markReady() {
	if l.cur.Load() != nil && l.rulesReady() == nil {
		l.once.Do(func() { close(l.ready) })
	}
}

// Versions returns the champion's and the challenger's versions ("" when
// not serving).
func (l *Lifecycle) Versions() (champion, challenger string) {
	s := l.cur.Load()
	if s == nil {
		return "", ""
	}
	if s.challenger != nil {
		challenger = s.challenger.version
	}
	return s.champion.version, challenger
}

// refresh reads both links and loads what moved (or everything when
// force), then swaps the served set if it changed.
func (l *Lifecycle) refresh(force bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refreshRules(force)
	old := l.cur.Load()
	var champ, chall *model
	if old != nil {
		champ, chall = old.champion, old.challenger
	}
	champ = l.refreshLink(championLink, champ, force)
	if champ == nil {
		return // nothing serves without a champion
	}
	chall = l.refreshLink(challengerLink, chall, force)
	if chall != nil && chall.version == champ.version {
		// promote of the challenger's version removes the link first;
		// a hand-made link to latest compares a model with itself.
		l.log.Warn("challenger link names the champion's version: no challenger", "model_version", chall.version)
		if l.opts.Drift != nil && (old == nil || old.challenger != chall) {
			l.opts.Drift.Stop(chall.version) // loaded (and its window started) just now
		}
		chall = nil
	}
	if old != nil && old.champion == champ && old.challenger == chall {
		return
	}
	next := &serving{champion: champ, challenger: chall}
	if chall != nil {
		next.decisions = l.m.pairCounters(champ.version, chall.version)
	}
	l.swap(old, next)
}

// refreshLink returns the model link should serve: cur when the link has
// not moved, the newly loaded version when it has and passes the checks,
// cur again when it fails them (refused: logged, counted), nil for a
// challenger link that was removed.
func (l *Lifecycle) refreshLink(link int, cur *model, force bool) *model {
	var (
		v   string
		err error
	)
	name := "champion"
	if link == championLink {
		v, err = l.store.Latest()
	} else {
		name = "challenger"
		v, err = l.store.Challenger()
		if errors.Is(err, modelstore.ErrNoChallenger) {
			if cur != nil {
				l.log.Info("challenger link removed: the champion serves alone", "model_version", cur.version)
			}
			l.refused[link] = ""
			return nil
		}
	}
	target := v
	if err != nil {
		target = "error: " + err.Error()
	}
	if !force && cur != nil && (target == cur.version || target == l.refused[link]) {
		return cur
	}
	if !force && cur == nil && link == challengerLink && target == l.refused[link] {
		return nil
	}
	if err == nil {
		var loaded *modelstore.Loaded
		if loaded, err = l.store.Load(v); err == nil {
			var m *model
			if m, err = l.newModel(loaded); err == nil {
				l.refused[link] = ""
				return m
			}
		}
	}
	l.m.loadFailure.Inc()
	l.refused[link] = target
	msg := err.Error()
	if link == championLink {
		l.lastErr.Store(&msg)
	}
	current := ""
	if cur != nil {
		current = cur.version
	}
	l.log.Error(name+" model refused; keeping the current one", "link", name, "current_model_version", current, "err", err)
	return cur
}

// swap makes next the served set and updates the metrics and windows.
func (l *Lifecycle) swap(old, next *serving) {
	var oldChamp, oldChall *model
	if old != nil {
		oldChamp, oldChall = old.champion, old.challenger
	}
	l.cur.Store(next)
	if next.champion != oldChamp {
		c := next.champion
		if oldChamp != nil {
			l.m.info.DeleteLabelValues(oldChamp.version)
		}
		l.m.info.WithLabelValues(c.version).Set(1)
		l.m.loadTime.Set(float64(c.loaded.LoadedAt.Unix()))
		l.m.createdTime.Set(float64(c.loaded.Meta.CreatedAt.Unix()))
		l.lastErr.Store(nil)
		l.serve(c, "champion")
		l.markReady()
	}
	if next.challenger != oldChall {
		if oldChall != nil {
			l.m.challengerInfo.DeleteLabelValues(oldChall.version)
		}
		if c := next.challenger; c != nil {
			l.m.challengerInfo.WithLabelValues(c.version).Set(1)
			l.serve(c, "challenger")
		}
	}
	for _, m := range []*model{oldChamp, oldChall} {
		if m != nil && m != next.champion && m != next.challenger && l.opts.Drift != nil {
			l.opts.Drift.Stop(m.version)
		}
	}
}

// serve announces a version that starts serving.
func (l *Lifecycle) serve(m *model, role string) {
	pol := m.sc.Policy()
	mode := ""
	if role == "challenger" {
		mode = l.cfg.ChallengerMode
	}
	l.log.Info(role+" model loaded", "model_version", m.version, "trees", m.loaded.Model.NumTrees(),
		"features", m.loaded.Extractor.Len(), "policy_version", pol.Version, "review", pol.Review, "decline", pol.Decline,
		"challenger_mode", mode)
	if l.opts.OnServe != nil {
		l.opts.OnServe(m.version)
	}
}
