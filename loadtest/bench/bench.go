package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fraudscore/fraudscore/loadtest"
	"github.com/fraudscore/fraudscore/synthetic"
)

// Options configure a benchmark run.
type Options struct {
	// FraudscoreBin, ServerBin: the worker binary and cmd/natsserver.
	FraudscoreBin string
	ServerBin     string
	// NatsCLI is the natscli binary for the transport baseline; empty skips it.
	NatsCLI string
	// ModelDir is the model store the workers serve.
	ModelDir string
	// TmpDir holds the servers' stores (one per scenario, removed after).
	TmpDir string
	// Quick selects the short plan (under two minutes).
	Quick bool
	// Only, when set, runs the scenarios whose name contains it, or one of
	// its "|"-separated parts, or, for a part that starts with "=", is
	// that part exactly.
	Only string
	// Rounds runs the selected scenarios this many times (0 or 1: once),
	// interleaved: odd rounds in plan order, even rounds in reverse, so a
	// drift of the machine's speed during the run weighs on both sides of
	// every ratio alike. Each ratio is then the median of its rounds'.
	Rounds int
	// SourceDir is the checkout whose commit the results record.
	SourceDir string
	// Command is how the run was started, recorded in the results.
	Command string
	// Log receives one line per scenario; ProcLog the children's output.
	Log     io.Writer
	ProcLog io.Writer
	// ServerProfPort, when set, has each scenario's server serve Go's
	// profiles (/debug/pprof) on that loopback port, for `go tool pprof`
	// while a scenario runs (scenarios run one at a time).
	ServerProfPort int
}

// Scenario is one end-to-end measurement on a fresh server.
type Scenario struct {
	Name string `json:"name"`
	// Workers is the number of worker processes on the shared consumer.
	Workers int `json:"workers"`
	// Env is extra worker environment (FRAUDSCORE_*, GOGC...).
	Env []string `json:"env,omitempty"`
	// Backlog preloads the transactions before the workers start, then
	// measures how fast they clear it (the worker's capacity without the
	// publisher competing for the two cores).
	Backlog bool `json:"backlog,omitempty"`
	// Challenger serves the model store with a challenger link to the
	// newest version other than latest (shadow mode, the default), so
	// every transaction is scored by two models.
	Challenger bool `json:"challenger,omitempty"`
	// Rules serves RulesSet (50 typical analyst rules) from a policy
	// directory of the scenario's own (FRAUDSCORE_RULES=on): the cost of
	// evaluating them on every transaction.
	Rules bool `json:"rules,omitempty"`
	// PopulationCards sends the load tester's population traffic over that
	// many cards (loadtest.Config.PopulationCards: cards that pay again and
	// again, raw events without upstream aggregates); 0: a random card per
	// event, upstream aggregates on most.
	PopulationCards int `json:"population_cards,omitempty"`
	// NatsBench runs natscli's JetStream publish and consume benchmark
	// instead of fraudscore: the transport baseline.
	NatsBench bool `json:"nats_bench,omitempty"`
	// NatsService runs natscli's service benchmark (`nats bench service
	// serve` and `request`) instead of fraudscore: the request-reply
	// baseline, with Load's Count and Concurrency.
	NatsService bool `json:"nats_service,omitempty"`
	// Load is the load test.
	Load loadtest.Config `json:"-"`
}

// Result is a scenario's outcome.
type Result struct {
	Scenario
	Report    *loadtest.Report `json:"report,omitempty"`
	RSSMaxMiB float64          `json:"worker_rss_max_mib,omitempty"`
	// NatsPub and NatsConsume are natscli's rates in messages per second.
	NatsPub     float64 `json:"nats_pub_per_s,omitempty"`
	NatsConsume float64 `json:"nats_consume_per_s,omitempty"`
	NatsSize    int     `json:"nats_msg_size,omitempty"`
	// NatsServiceRate is natscli's service benchmark rate in requests per
	// second.
	NatsServiceRate float64 `json:"nats_service_requests_per_s,omitempty"`
	// NatsClients is the number of natscli request clients.
	NatsClients int     `json:"nats_clients,omitempty"`
	Seconds     float64 `json:"wall_seconds"`
	// CPU seconds used during the load test by the server, the workers
	// (summed) and the load generator.
	ServerCPU float64 `json:"server_cpu_s,omitempty"`
	WorkerCPU float64 `json:"worker_cpu_s,omitempty"`
	LoadCPU   float64 `json:"loadgen_cpu_s,omitempty"`
	// CPUPerVerdict is the same CPU divided by the verdicts (or replies)
	// matched, in microseconds: the cost that carries to a pod's sizing.
	CPUPerVerdict *CPUPerVerdict `json:"cpu_us_per_verdict,omitempty"`
	// Features are the workers' velocity and archive series (summed over
	// the workers) when the measured phase ended: how many transactions
	// were enriched or scored without velocity (degraded), archive copies
	// stored or failed. Absent when the scenario used neither.
	Features map[string]float64 `json:"worker_features,omitempty"`
	// LoadAvg is the machine's 1-minute load average when the scenario
	// ended: above ~2.5 on 2 cores, other work competed with the benchmark.
	LoadAvg float64 `json:"loadavg_1m"`
	// Round is the round the result belongs to (1-based) when the run had
	// several (Options.Rounds); 0 in a single-round run.
	Round int    `json:"round,omitempty"`
	Err   string `json:"error,omitempty"`
}

// Results are a whole run: where and on what source it ran, the scenarios'
// outcomes, and the ratios to the baselines measured in the same run.
type Results struct {
	// Date and Finished bound the run; LoadStart and LoadEnd are the load
	// averages then (above about the core count, other work competed).
	Date      time.Time `json:"date"`
	Finished  time.Time `json:"finished"`
	LoadStart LoadAvgs  `json:"loadavg_start"`
	LoadEnd   LoadAvgs  `json:"loadavg_end"`
	Git       Git       `json:"git"`
	Machine   Machine   `json:"machine"`
	// Command is how the run was started (for the markdown).
	Command string `json:"command"`
	// Environment are the settings the bench's own environment gave every
	// process of every scenario (InheritedEnv), beside each scenario's Env.
	Environment []string `json:"environment,omitempty"`
	Quick       bool     `json:"quick"`
	Results     []Result `json:"results"`
	// Rounds is the number of rounds (Options.Rounds; 0: one).
	Rounds int `json:"rounds,omitempty"`
	// Ratios are fraudscore's figures over the baselines of this run; with
	// several rounds, each is the median of RatioRounds' values.
	Ratios Ratios `json:"ratios"`
	// RatioRounds are the ratios of each round, in round order, when the
	// run had several.
	RatioRounds []Ratios `json:"ratio_rounds,omitempty"`
	// ScenarioMedians are each scenario's median figures over the rounds,
	// when the run had several.
	ScenarioMedians []ScenarioMedian `json:"scenario_medians,omitempty"`
}

// InheritedEnv returns, sorted, the variables of environ (KEY=value) that
// change what a bench process does and that every process inherits (see
// StartProc): fraudscore's settings (FRAUDSCORE_*) and the Go runtime's
// (GOGC, GOMAXPROCS, GOMEMLIMIT, GODEBUG). A run made with any is not
// comparable with one made without, so the results record them.
func InheritedEnv(environ []string) []string {
	var kept []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "FRAUDSCORE_"), name == "GOGC", name == "GOMAXPROCS", name == "GOMEMLIMIT", name == "GODEBUG":
			kept = append(kept, kv)
		}
	}
	slices.Sort(kept)
	return kept
}

// Plan returns the scenarios of a full or quick run.
func Plan(quick bool) []Scenario {
	big, rateDur, reqCount := 400_000, 15*time.Second, 60_000
	if quick {
		big, rateDur, reqCount = 150_000, 4*time.Second, 20_000
	}
	stream := func(rate float64, count int, d time.Duration) loadtest.Config {
		return loadtest.Config{Mode: loadtest.ModeStream, Rate: rate, Count: count, Duration: d}
	}
	pt := []string{"FRAUDSCORE_PASS_THROUGH=true"}
	s := []Scenario{
		{Name: ScenarioNatsBench, NatsBench: true, Load: stream(0, big, 0)},
		{Name: ScenarioNatsService, NatsService: true, Load: loadtest.Config{Mode: loadtest.ModeRequest, Count: reqCount, Concurrency: 32}},
		{Name: ScenarioPassThroughBacklog, Workers: 1, Env: pt, Backlog: true, Load: stream(0, big, 0)},
		{Name: ScenarioBacklog, Workers: 1, Backlog: true, Load: stream(0, big, 0)},
		{Name: ScenarioChallengerBacklog, Workers: 1, Backlog: true, Challenger: true, Load: stream(0, big, 0)},
		{Name: ScenarioReasonsOffBacklog, Workers: 1, Env: []string{"FRAUDSCORE_REASONS=off"}, Backlog: true, Load: stream(0, big, 0)},
		{Name: ScenarioRulesBacklog, Workers: 1, Backlog: true, Rules: true, Load: stream(0, big, 0)},
		{Name: ScenarioPassThroughMax, Workers: 1, Env: pt, Load: stream(0, big, 0)},
		{Name: ScenarioMax, Workers: 1, Load: stream(0, big, 0)},
	}
	rates := []float64{1000, 5000, 10_000, 20_000}
	if quick {
		rates = []float64{1000, 5000}
	}
	for _, r := range rates {
		s = append(s, Scenario{Name: fmt.Sprintf("fraudscore %dk/s", int(r/1000)), Workers: 1, Load: stream(r, 0, rateDur)})
	}
	if !quick {
		for _, r := range []float64{30_000, 40_000} {
			s = append(s, Scenario{Name: fmt.Sprintf("fraudscore %dk/s", int(r/1000)), Workers: 1, Load: stream(r, 0, 10*time.Second)})
		}
	}
	s = append(s,
		Scenario{Name: "request 1k/s", Workers: 1, Load: loadtest.Config{Mode: loadtest.ModeRequest, Rate: 1000, Duration: rateDur, Concurrency: 16}},
		Scenario{Name: ScenarioRequestMax, Workers: 1, Load: loadtest.Config{Mode: loadtest.ModeRequest, Count: reqCount, Concurrency: 32}},
		Scenario{Name: ScenarioTwoWorkersBacklog, Workers: 2, Backlog: true, Load: stream(0, big, 0)},
	)
	if !quick {
		s = append(s,
			Scenario{Name: "2 workers max", Workers: 2, Load: stream(0, big, 0)},
			Scenario{Name: "2 pass-through workers backlog", Workers: 2, Env: pt, Backlog: true, Load: stream(0, big, 0)},
		)
		for _, env := range [][]string{
			{"FRAUDSCORE_CONCURRENCY=1"},
			{"FRAUDSCORE_CONCURRENCY=8"},
			{"FRAUDSCORE_BATCH_SIZE=64"},
			{"FRAUDSCORE_BATCH_SIZE=1024", "FRAUDSCORE_PUBLISH_WINDOW=8192"},
			{"FRAUDSCORE_PUBLISH_WINDOW=512"},
			{"GOGC=400"},
			{"GOMEMLIMIT=48MiB", "GOGC=off"},
		} {
			s = append(s, Scenario{Name: "tune " + strings.Join(env, " "), Workers: 1, Env: env, Backlog: true, Load: stream(0, 300_000, 0)})
		}
	}
	if !quick {
		s = append(s, featureScenarios(rateDur)...)
	}
	return s
}

// Sizes of the optional-feature scenarios: velocity's backlog is smaller than
// the others' (each transaction costs a KV read and a compare-and-set write
// per key), its latency runs at 2,000 tx/s (issue 13's target), and its
// population traffic has 20,000 cards (synthetic's default).
const (
	velocityBacklog    = 100_000
	velocityRate       = 2000
	velocityPopulation = 20_000
)

// featureScenarios measure the optional features that use NATS beyond
// scoring, each against the same traffic with the feature off, in the same
// run: the transaction archive (one more publish per transaction, against
// "fraudscore backlog"), and velocity in a KV bucket: backlog throughput and
// latency at velocityRate, with the load tester's default traffic (a new
// card per event: every event creates a key, the most state and no
// contention) and with population traffic (cards and devices that repeat).
func featureScenarios(rateDur time.Duration) []Scenario {
	stream := func(rate float64, count int, d time.Duration) loadtest.Config {
		return loadtest.Config{Mode: loadtest.ModeStream, Rate: rate, Count: count, Duration: d}
	}
	s := []Scenario{{Name: ScenarioArchiveBacklog, Workers: 1, Env: []string{"FRAUDSCORE_ARCHIVE=true"}, Backlog: true,
		Load: stream(0, 400_000, 0)}}
	// A KV round trip per key and transaction may clear the backlog at a
	// few thousand per second on a busy machine: more time than the
	// other scenarios' cap.
	backlog := stream(0, velocityBacklog, 0)
	backlog.MaxDuration = 6 * time.Minute
	// Velocity off, on with the bucket on file (the default) and in memory,
	// on the same traffic.
	variants := []struct {
		env  []string
		name func(backlog, population bool) string
	}{
		{nil, func(b, p bool) string { return VelocityScenario(false, b, p) }},
		{[]string{"FRAUDSCORE_VELOCITY=kv"}, func(b, p bool) string { return VelocityScenario(true, b, p) }},
		{[]string{"FRAUDSCORE_VELOCITY=kv", "FRAUDSCORE_VELOCITY_STORAGE=memory"}, VelocityMemoryScenario},
	}
	for _, pop := range []int{0, velocityPopulation} {
		for _, v := range variants {
			s = append(s,
				Scenario{Name: v.name(true, pop > 0), Workers: 1, Env: v.env, Backlog: true, PopulationCards: pop,
					Load: backlog},
				Scenario{Name: v.name(false, pop > 0), Workers: 1, Env: v.env, PopulationCards: pop,
					Load: stream(velocityRate, 0, rateDur)})
		}
	}
	// Events wait on KV round trips while the worker runs
	// FRAUDSCORE_CONCURRENCY of them at a time (by default 64 per CPU with
	// velocity on): the same backlog with 16 scoring goroutines.
	s = append(s, Scenario{Name: VelocityScenario(true, true, false) + ", concurrency 16", Workers: 1,
		Env: []string{"FRAUDSCORE_VELOCITY=kv", "FRAUDSCORE_CONCURRENCY=16"}, Backlog: true, Load: backlog})
	return s
}

// VelocityScenario names a velocity scenario: "velocity kv, backlog",
// "velocity off, 2k/s, population", ...
func VelocityScenario(kv, backlog, population bool) string {
	name := "velocity off"
	if kv {
		name = "velocity kv"
	}
	if backlog {
		name += ", backlog"
	} else {
		name += fmt.Sprintf(", %dk/s", velocityRate/1000)
	}
	if population {
		name += ", population"
	}
	return name
}

// VelocityMemoryScenario names a velocity scenario with the bucket in memory
// (FRAUDSCORE_VELOCITY_STORAGE=memory): "velocity kv, backlog, memory", ...
func VelocityMemoryScenario(backlog, population bool) string {
	return VelocityScenario(true, backlog, population) + ", memory"
}

// selected reports whether the scenario name is selected by only (see
// Options.Only).
func selected(name, only string) bool {
	if only == "" {
		return true
	}
	for _, part := range strings.Split(only, "|") {
		if exact, ok := strings.CutPrefix(part, "="); ok && name == exact || !ok && part != "" && strings.Contains(name, part) {
			return true
		}
	}
	return false
}

// Run runs the plan and returns the results; a failing scenario is recorded
// and the run goes on.
func Run(ctx context.Context, o Options) (*Results, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	res := &Results{Date: time.Now().UTC(), LoadStart: ReadLoadAvg(), Git: GitState(ctx, o.SourceDir), Machine: DescribeMachine(),
		Command: o.Command, Environment: InheritedEnv(os.Environ()), Quick: o.Quick}
	var plan []Scenario
	for _, sc := range Plan(o.Quick) {
		if selected(sc.Name, o.Only) {
			plan = append(plan, sc)
		}
	}
	if o.Rounds > 1 {
		res.Rounds = o.Rounds
	}
	for round := 1; round <= max(o.Rounds, 1); round++ {
		for i := range plan {
			sc := plan[i]
			if round%2 == 0 {
				sc = plan[len(plan)-1-i]
			}
			if ctx.Err() != nil {
				break
			}
			if res.Rounds > 0 {
				fmt.Fprintf(o.Log, "== round %d/%d: %s\n", round, res.Rounds, sc.Name)
			} else {
				fmt.Fprintf(o.Log, "== %s\n", sc.Name)
			}
			start := time.Now()
			r := runScenario(ctx, o, sc)
			r.Seconds = time.Since(start).Seconds()
			r.LoadAvg = LoadAvg()
			if res.Rounds > 0 {
				r.Round = round
			}
			fmt.Fprintf(o.Log, "   %s\n", r.Line())
			res.Results = append(res.Results, r)
		}
	}
	res.Finished, res.LoadEnd = time.Now().UTC(), ReadLoadAvg()
	res.ComputeRatios()
	return res, nil
}

// Line is a one-line summary of a result.
func (r Result) Line() string {
	switch {
	case r.Err != "":
		return "error: " + r.Err
	case r.NatsBench:
		return fmt.Sprintf("nats bench js (%d B): publish %.0f msgs/s, consume %.0f msgs/s", r.NatsSize, r.NatsPub, r.NatsConsume)
	case r.NatsService:
		return fmt.Sprintf("nats bench service (%d B, %d clients): %.0f requests/s", r.NatsSize, r.NatsClients, r.NatsServiceRate)
	case r.Report == nil:
		return "no report"
	}
	p := r.Report
	s := fmt.Sprintf("sent %d, verdicts %d: %.0f/s", p.Sent, p.Matched, p.Throughput)
	if p.BacklogThroughput > 0 {
		s += fmt.Sprintf(" (backlog cleared at %.0f/s)", p.BacklogThroughput)
	}
	if c := r.CPUPerVerdict; c != nil {
		s += fmt.Sprintf("; CPU µs/verdict server %.1f worker %.1f loadgen %.1f", c.Server, c.Worker, c.LoadGen)
	}
	s += fmt.Sprintf("; load %.1f", r.LoadAvg)
	s += fmt.Sprintf("; p50 %.2f p99 %.2f p99.9 %.2f max %.2f ms; missing %d dup %d dlq %d errors %d; RSS max %.1f MiB",
		p.Latency.P50, p.Latency.P99, p.Latency.P999, p.Latency.Max, p.Missing, max(p.StoredDuplicates, 0), sum(p.DeadLetters), sum(p.Errors), r.RSSMaxMiB)
	return s
}

func sum(m map[string]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}

func runScenario(ctx context.Context, o Options, sc Scenario) (r Result) {
	r.Scenario = sc
	store, err := os.MkdirTemp(o.TmpDir, "bench-store-")
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer os.RemoveAll(store)
	srv, err := StartServer(ctx, o.ServerBin, store, o.ServerProfPort, o.ProcLog)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer func() { _ = srv.Stop(15 * time.Second) }()

	if sc.NatsBench || sc.NatsService {
		bench := natsBench
		if sc.NatsService {
			bench = natsService
		}
		if err := bench(ctx, o, srv.URL, sc.Load, &r); err != nil {
			r.Err = err.Error()
		}
		return r
	}
	var workers []*Worker
	stopWorkers := func() {
		for _, w := range workers {
			_ = w.Stop(30 * time.Second)
		}
		workers = nil
	}
	defer stopWorkers()
	var rss *RSSSampler
	modelDir := o.ModelDir
	if sc.Challenger {
		dir, err := ChallengerStore(o.ModelDir, filepath.Join(store, "models"))
		if err != nil {
			r.Err = err.Error()
			return r
		}
		modelDir = dir
	}
	workerEnv := sc.Env
	if sc.Rules {
		dir, err := RulesPolicyDir(filepath.Join(store, "policies"))
		if err != nil {
			r.Err = err.Error()
			return r
		}
		workerEnv = append([]string{"FRAUDSCORE_RULES=on", "FRAUDSCORE_POLICY_DIR=" + dir}, workerEnv...)
	}
	startWorkers := func(ctx context.Context) error {
		sides := make([]string, 0, sc.Workers)
		for i := range sc.Workers {
			env := append([]string{fmt.Sprintf("FRAUDSCORE_WORKER_ID=bench-%d", i)}, workerEnv...)
			w, err := StartWorker(ctx, o.FraudscoreBin, srv.URL, modelDir, env, o.ProcLog)
			if err != nil {
				return err
			}
			workers = append(workers, w)
			sides = append(sides, w.Side)
		}
		rss = SampleRSS(sides, 250*time.Millisecond)
		return nil
	}
	// The first worker creates the topology; in backlog mode it stops again
	// before the transactions are sent.
	if err := startWorkers(ctx); err != nil {
		r.Err = err.Error()
		return r
	}
	cfg := sc.Load
	cfg.URL = srv.URL
	cfg.PassThrough = hasEnv(sc.Env, "FRAUDSCORE_PASS_THROUGH=true")
	cfg.PopulationCards = sc.PopulationCards
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 3 * time.Minute
	}
	cfg.Drain = 15 * time.Second
	srv0, self0 := CPUSeconds(srv.Pid()), CPUSeconds(0)
	// CPU is sampled when the measured phase ends, before the stored check
	// reads the streams back.
	cfg.Measured = func() {
		r.ServerCPU, r.LoadCPU = CPUSeconds(srv.Pid())-srv0, CPUSeconds(0)-self0
		for _, w := range workers {
			r.WorkerCPU += CPUSeconds(w.Pid())
			series, err := FeatureSeries(w.Side)
			if err != nil {
				continue
			}
			for k, v := range series {
				if r.Features == nil {
					r.Features = map[string]float64{}
				}
				r.Features[k] += v
			}
		}
	}
	if sc.Backlog {
		rss.Stop()
		stopWorkers()
		cfg.AfterSend = startWorkers
	}
	rep, err := loadtest.Run(ctx, cfg)
	if rss != nil {
		r.RSSMaxMiB, _ = rss.Stop()
	}
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Report = rep
	if rep.Matched > 0 {
		n := float64(rep.Matched) / 1e6
		r.CPUPerVerdict = &CPUPerVerdict{Server: r.ServerCPU / n, Worker: r.WorkerCPU / n, LoadGen: r.LoadCPU / n}
	}
	return r
}

// CPUPerVerdict is CPU time per matched verdict, in microseconds, by process.
type CPUPerVerdict struct {
	Server  float64 `json:"server"`
	Worker  float64 `json:"worker"` // summed over the scenario's workers
	LoadGen float64 `json:"loadgen"`
}

func hasEnv(env []string, kv string) bool {
	for _, e := range env {
		if e == kv {
			return true
		}
	}
	return false
}

var rateRe = regexp.MustCompile(`stats: ([\d,]+) msgs/sec`)

// natsRate runs natscli against url with args and returns the rate it
// reports.
func natsRate(ctx context.Context, o Options, url string, args ...string) (float64, error) {
	if o.NatsCLI == "" {
		return 0, fmt.Errorf("natscli not available")
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	full := append([]string{"-s", url}, args...)
	out, err := exec.CommandContext(cctx, o.NatsCLI, full...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("nats %s: %w: %s", strings.Join(args, " "), err, tail(out))
	}
	m := rateRe.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("nats %s: no rate in output: %s", strings.Join(args, " "), tail(out))
	}
	return strconv.ParseFloat(strings.ReplaceAll(string(m[1]), ",", ""), 64)
}

// natsBench runs natscli's JetStream async publish and durable consume
// benchmarks with messages the size of an average synthetic transaction.
func natsBench(ctx context.Context, o Options, url string, load loadtest.Config, r *Result) error {
	r.NatsSize = AvgEventSize(1000)
	n := strconv.Itoa(load.Count)
	var err error
	if r.NatsPub, err = natsRate(ctx, o, url, "bench", "js", "pub", "async", "bench.tx", "--create", "--storage", "file", "--msgs", n,
		"--size", strconv.Itoa(r.NatsSize), "--no-progress"); err != nil {
		return err
	}
	r.NatsConsume, err = natsRate(ctx, o, url, "bench", "js", "consume", "--msgs", n, "--no-progress")
	return err
}

// natsService runs natscli's service benchmark: one `nats bench service
// serve` process answering on a subject, and `nats bench service request`
// with the load's concurrency and count, with requests the size of an
// average synthetic transaction.
func natsService(ctx context.Context, o Options, url string, load loadtest.Config, r *Result) error {
	if o.NatsCLI == "" {
		return fmt.Errorf("natscli not available")
	}
	const subject = "bench.score"
	r.NatsSize, r.NatsClients = AvgEventSize(1000), load.Concurrency
	serve, err := StartProc("nats bench service serve", o.NatsCLI, []string{"-s", url, "bench", "service", "serve", subject, "--clients", "1", "--no-progress"}, nil, o.ProcLog)
	if err != nil {
		return err
	}
	defer func() { _ = serve.Stop(10 * time.Second) }()
	if err := waitReply(ctx, url, subject); err != nil {
		return fmt.Errorf("bench: nats bench service serve not answering: %w", err)
	}
	r.NatsServiceRate, err = natsRate(ctx, o, url, "bench", "service", "request", subject, "--clients", strconv.Itoa(load.Concurrency),
		"--msgs", strconv.Itoa(load.Count), "--size", strconv.Itoa(r.NatsSize), "--no-progress")
	return err
}

// waitReply waits until a request on subject is answered.
func waitReply(ctx context.Context, url, subject string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("bench: connect %s: %w", url, err)
	}
	defer nc.Close()
	return waitFor(ctx, 30*time.Second, func() bool {
		_, err := nc.Request(subject, nil, time.Second)
		return err == nil
	})
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		s = s[len(s)-400:]
	}
	return s
}

// AvgEventSize is the mean JSON size of n synthetic transactions.
func AvgEventSize(n int) int {
	g := synthetic.New(synthetic.Config{Seed: 1, Now: time.Now, IDPrefix: "lt-" + loadtest.NewRunID(time.Now()) + "-"})
	total := 0
	for range n {
		ev, _ := g.Next()
		b, _ := json.Marshal(&ev)
		total += len(b)
	}
	return total / n
}

// LoadAvg returns the 1-minute load average (0 if unknown).
func LoadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// ReadJSON reads results written by WriteJSON.
func ReadJSON(path string) (*Results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	return &res, nil
}

// WriteJSON writes the results as indented JSON.
func (res *Results) WriteJSON(path string) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
