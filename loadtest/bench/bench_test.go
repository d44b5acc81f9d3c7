package bench

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/loadtest"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

// sample is a run with every baseline and every scenario a ratio names.
func sample() *Results {
	rep := func(throughput, backlog float64) *loadtest.Report {
		return &loadtest.Report{Mode: loadtest.ModeStream, Throughput: throughput, BacklogThroughput: backlog,
			Stored: &loadtest.Integrity{Settled: true}}
	}
	res := &Results{
		Date: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 1, 10, 8, 0, 0, time.UTC),
		LoadStart: LoadAvgs{0.5, 0.4, 0.3}, LoadEnd: LoadAvgs{2.5, 1.4, 0.9},
		Git:         Git{Commit: "0123456789abcdef0123456789abcdef01234567", Dirty: true},
		Machine:     Machine{Hostname: "bench-host", NProc: 2, CPU: "Test CPU", Kernel: "6.1.0", GoVersion: "go1.26", OS: "linux/amd64"},
		Command:     "make bench",
		Environment: []string{"FRAUDSCORE_CONCURRENCY=512", "GOGC=400"},
		Results: []Result{
			{Scenario: Scenario{Name: ScenarioNatsBench, NatsBench: true}, NatsPub: 150_000, NatsConsume: 200_000, NatsSize: 427},
			{Scenario: Scenario{Name: ScenarioNatsService, NatsService: true}, NatsServiceRate: 40_000, NatsClients: 32, NatsSize: 427},
			{Scenario: Scenario{Name: ScenarioPassThroughBacklog, Workers: 1}, Report: rep(45_000, 80_000)},
			{Scenario: Scenario{Name: ScenarioBacklog, Workers: 1}, Report: rep(36_000, 60_000)},
			{Scenario: Scenario{Name: ScenarioPassThroughMax, Workers: 1}, Report: rep(50_000, 0)},
			{Scenario: Scenario{Name: ScenarioMax, Workers: 1}, Report: rep(40_000, 0)},
			{Scenario: Scenario{Name: ScenarioRequestMax, Workers: 1}, Report: rep(20_000, 0)},
			{Scenario: Scenario{Name: ScenarioTwoWorkersBacklog, Workers: 2}, Report: rep(35_000, 66_000)},
			{Scenario: Scenario{Name: ScenarioReasonsOffBacklog, Workers: 1, Env: []string{"FRAUDSCORE_REASONS=off"}}, Report: rep(37_000, 64_000)},
		},
	}
	res.ComputeRatios()
	return res
}

func TestRatiosToBaselinesOfTheSameRun(t *testing.T) {
	r := sample().Ratios
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"backlog / transport consume", r.BacklogPerTransportConsume, 60_000.0 / 200_000},
		{"backlog / transport publish", r.BacklogPerTransportPublish, 60_000.0 / 150_000},
		{"pass-through backlog / transport consume", r.PassThroughBacklogPerTransportConsume, 80_000.0 / 200_000},
		{"backlog / pass-through", r.BacklogPerPassThrough, 60_000.0 / 80_000},
		{"max / pass-through", r.MaxPerPassThrough, 40_000.0 / 50_000},
		{"request / service bench", r.RequestPerServiceBench, 20_000.0 / 40_000},
		{"two workers / one", r.TwoWorkersBacklogPerOne, 66_000.0 / 60_000},
		{"reasons flagged / off", r.ReasonsFlaggedPerOff, 60_000.0 / 64_000},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// A failed baseline gives 0, not a ratio to nothing.
	res := sample()
	res.Results[0].Err = "natscli not available"
	res.ComputeRatios()
	if res.Ratios.BacklogPerTransportConsume != 0 || res.Ratios.BacklogPerPassThrough == 0 {
		t.Errorf("failed transport baseline: ratios %+v", res.Ratios)
	}
}

// TestMarkdownFromJSON writes a run's JSON, reads it back and renders the
// markdown from what was read: the metadata and every ratio appear.
func TestMarkdownFromJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	if err := sample().WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	res, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ratios != sample().Ratios {
		t.Fatalf("ratios did not survive the JSON: %+v", res.Ratios)
	}
	var md bytes.Buffer
	res.WriteMarkdown(&md)
	out := md.String()
	for _, want := range []string{
		"0123456789abcdef0123456789abcdef01234567", "dirty", "bench-host", "Test CPU", "kernel 6.1.0", "go1.26",
		"0.50 0.40 0.30 at the start", "2.50 1.40 0.90 at the end",
		"- environment of every process (beside each scenario's env): `FRAUDSCORE_CONCURRENCY=512 GOGC=400`",
		"publish 150000 msgs/s, consume 200000 msgs/s", "32 clients): **40000 requests/s**",
		"| `backlog_per_transport_consume` | fraudscore backlog verdicts/s ÷ nats bench js consume msgs/s | **0.30** |",
		"| `request_per_service_bench` |", "| `two_workers_backlog_per_one` |", "| `reasons_flagged_per_off` |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	for _, row := range res.Ratios.Rows() {
		if row.Key == "" || row.Desc == "" || !strings.Contains(out, "`"+row.Key+"`") {
			t.Errorf("ratio row %+v missing a key, a description or its table line", row)
		}
	}
}

// The settings every process inherits from the bench's environment are
// kept, sorted; the rest of the environment is not recorded.
func TestInheritedEnv(t *testing.T) {
	got := InheritedEnv([]string{"PATH=/usr/bin", "GOGC=400", "FRAUDSCORE_CONCURRENCY=512", "HOME=/root",
		"GOMAXPROCS=1", "XFRAUDSCORE_X=1", "GOMEMLIMIT=1GiB", "GODEBUG=gctrace=1", "GOFLAGS=-race"})
	want := []string{"FRAUDSCORE_CONCURRENCY=512", "GODEBUG=gctrace=1", "GOGC=400", "GOMAXPROCS=1", "GOMEMLIMIT=1GiB"}
	if !slices.Equal(got, want) {
		t.Errorf("InheritedEnv = %q, want %q", got, want)
	}
	if got := InheritedEnv([]string{"PATH=/usr/bin"}); got != nil {
		t.Errorf("InheritedEnv without settings = %q, want none", got)
	}
}

func TestMachineAndGit(t *testing.T) {
	m := DescribeMachine()
	if m.NProc < 1 || m.GoVersion == "" || m.Hostname == "" {
		t.Errorf("machine %+v", m)
	}
	g := GitState(t.Context(), ".")
	if len(g.Commit) != 40 {
		t.Errorf("git commit %q, want a full hash (tests run in the checkout)", g.Commit)
	}
	if l := ReadLoadAvg(); l[0] < 0 {
		t.Errorf("load average %v", l)
	}
}

// rounds is a three-round run of the backlog, challenger and reasons-off
// scenarios whose ratios differ per round.
func rounds() *Results {
	rep := func(backlog float64) *loadtest.Report {
		return &loadtest.Report{Mode: loadtest.ModeStream, Throughput: backlog / 2, BacklogThroughput: backlog,
			Stored: &loadtest.Integrity{Settled: true}}
	}
	res := &Results{Rounds: 3, Command: "cmd/bench -rounds 3"}
	for i, r := range []struct{ backlog, challenger, reasonsOff float64 }{
		{60_000, 30_000, 50_000}, // challenger 0.5, reasons 1.2
		{60_000, 54_000, 75_000}, // challenger 0.9, reasons 0.8
		{50_000, 40_000, 50_000}, // challenger 0.8, reasons 1.0
	} {
		round := i + 1
		res.Results = append(res.Results,
			Result{Scenario: Scenario{Name: ScenarioBacklog, Workers: 1}, Round: round, Report: rep(r.backlog)},
			Result{Scenario: Scenario{Name: ScenarioChallengerBacklog, Workers: 1}, Round: round, Report: rep(r.challenger)},
			Result{Scenario: Scenario{Name: ScenarioReasonsOffBacklog, Workers: 1}, Round: round, Report: rep(r.reasonsOff)},
		)
	}
	res.ComputeRatios()
	return res
}

// TestRatiosAreMediansOfRounds: each round's ratios come from that round's
// scenarios only, and the headline ratio is their median; a ratio no round
// could compute stays 0.
func TestRatiosAreMediansOfRounds(t *testing.T) {
	res := rounds()
	if len(res.RatioRounds) != 3 {
		t.Fatalf("ratio rounds %d, want 3", len(res.RatioRounds))
	}
	for i, want := range []float64{0.5, 0.9, 0.8} {
		if got := res.RatioRounds[i].ChallengerShadowPerNone; got != want {
			t.Errorf("round %d challenger ratio %v, want %v", i+1, got, want)
		}
	}
	if got := res.Ratios.ChallengerShadowPerNone; got != 0.8 {
		t.Errorf("median challenger ratio %v, want 0.8", got)
	}
	if got := res.Ratios.ReasonsFlaggedPerOff; got != 1.0 {
		t.Errorf("median reasons ratio %v, want 1.0", got)
	}
	if res.Ratios.BacklogPerPassThrough != 0 {
		t.Errorf("no pass-through ran, ratio %v", res.Ratios.BacklogPerPassThrough)
	}
	// A round whose scenario failed does not count.
	res.Results[1].Err = "worker failed"
	res.ComputeRatios()
	if res.RatioRounds[0].ChallengerShadowPerNone != 0 || math.Abs(res.Ratios.ChallengerShadowPerNone-0.85) > 1e-12 {
		t.Errorf("failed round counted: rounds %v, median %v", res.RatioRounds[0].ChallengerShadowPerNone, res.Ratios.ChallengerShadowPerNone)
	}
	var md bytes.Buffer
	res.WriteMarkdown(&md)
	for _, want := range []string{"3 interleaved rounds", "| median | round 1 | round 2 | round 3 |",
		"fraudscore backlog, challenger in shadow (round 2)", "| **0.85** | 0.00 | 0.90 | 0.80 |",
		"| fraudscore backlog, challenger in shadow | 2 | 23500 | 47000 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	// Each scenario's medians, over the rounds it completed.
	if len(res.ScenarioMedians) != 3 {
		t.Fatalf("scenario medians %+v, want 3", res.ScenarioMedians)
	}
	if m := res.ScenarioMedians[0]; m.Name != ScenarioBacklog || m.Rounds != 3 || m.BacklogThroughput != 60_000 || m.Throughput != 30_000 {
		t.Errorf("backlog medians %+v, want 3 rounds, 60000 backlog, 30000 throughput", m)
	}
	if m := res.ScenarioMedians[1]; m.Rounds != 2 || m.BacklogThroughput != 47_000 {
		t.Errorf("challenger medians %+v, want the two rounds that ran: (54000+40000)/2", m)
	}
}

// TestRunInterleavesRounds: with Rounds, the selected scenarios run once per
// round, odd rounds in plan order and even rounds reversed. The scenarios
// fail at once here (no binaries), which is enough to see the order.
func TestRunInterleavesRounds(t *testing.T) {
	var log bytes.Buffer
	dir := t.TempDir()
	res, err := Run(t.Context(), Options{Only: "fraudscore backlog", Rounds: 2, Log: &log, TmpDir: dir,
		FraudscoreBin: filepath.Join(dir, "missing"), ServerBin: filepath.Join(dir, "missing"), ModelDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Results {
		got = append(got, r.Name+"#"+string(rune('0'+r.Round)))
	}
	want := []string{
		ScenarioBacklog + "#1", ScenarioChallengerBacklog + "#1", ScenarioReasonsOffBacklog + "#1", ScenarioRulesBacklog + "#1", ScenarioArchiveBacklog + "#1",
		ScenarioArchiveBacklog + "#2", ScenarioRulesBacklog + "#2", ScenarioReasonsOffBacklog + "#2", ScenarioChallengerBacklog + "#2", ScenarioBacklog + "#2",
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestRulesSetIsTheTypicalRules: the rules scenario serves the rule set the
// scorer's rule benchmarks measure, and the store loads it (every rule
// compiles and passes its examples).
func TestRulesSetIsTheTypicalRules(t *testing.T) {
	if RulesSet != testenv.TypicalRules(50, false) {
		t.Fatal("rules50.yaml differs from testenv.TypicalRules(50, false): regenerate it")
	}
	dir, err := RulesPolicyDir(filepath.Join(t.TempDir(), "policies"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.OpenStore(dir).LoadLatest()
	if err != nil {
		t.Fatalf("the scenario's rule set is refused: %v", err)
	}
	if n := set.Len(); n != 50 {
		t.Fatalf("%d rules, want 50", n)
	}
}

// TestFeatureRatios: the archive's ratio is to the plain backlog; each
// velocity ratio compares kv with off on the same traffic (a new card per
// event, or the population), for backlog throughput, p99 at 2k/s and the
// NATS server's CPU per verdict.
func TestFeatureRatios(t *testing.T) {
	res := sample()
	add := func(name string, backlog, p99, serverCPU float64) {
		rep := &loadtest.Report{Mode: loadtest.ModeStream, BacklogThroughput: backlog}
		rep.Latency.P99 = p99
		res.Results = append(res.Results, Result{Scenario: Scenario{Name: name, Workers: 1}, Report: rep,
			CPUPerVerdict: &CPUPerVerdict{Server: serverCPU}})
	}
	add(ScenarioArchiveBacklog, 48_000, 0, 0)
	add(VelocityScenario(false, true, false), 50_000, 0, 40)
	add(VelocityScenario(true, true, false), 20_000, 0, 100)
	add(VelocityScenario(false, false, false), 0, 4, 0)
	add(VelocityScenario(true, false, false), 0, 10, 0)
	add(VelocityScenario(false, true, true), 40_000, 0, 50)
	add(VelocityScenario(true, true, true), 30_000, 0, 75)
	add(VelocityScenario(false, false, true), 0, 5, 0)
	add(VelocityScenario(true, false, true), 0, 6, 0)
	add(VelocityMemoryScenario(true, false), 25_000, 0, 80)
	add(VelocityMemoryScenario(false, false), 0, 8, 0)
	add(VelocityMemoryScenario(true, true), 36_000, 0, 60)
	add(VelocityMemoryScenario(false, true), 0, 5.5, 0)
	res.ComputeRatios()
	r := res.Ratios
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"archive / off", r.ArchivePerOff, 48_000.0 / 60_000},
		{"velocity backlog", r.VelocityBacklogPerOff, 20_000.0 / 50_000},
		{"velocity p99", r.VelocityP99PerOff, 10.0 / 4},
		{"velocity server CPU", r.VelocityServerCPUPerOff, 100.0 / 40},
		{"population backlog", r.VelocityPopulationBacklogPerOff, 30_000.0 / 40_000},
		{"population p99", r.VelocityPopulationP99PerOff, 6.0 / 5},
		{"population server CPU", r.VelocityPopulationServerCPUPerOff, 75.0 / 50},
		{"memory backlog", r.VelocityMemoryBacklogPerOff, 25_000.0 / 50_000},
		{"memory p99", r.VelocityMemoryP99PerOff, 8.0 / 4},
		{"memory server CPU", r.VelocityMemoryServerCPUPerOff, 80.0 / 40},
		{"memory population backlog", r.VelocityMemoryPopulationBacklogPerOff, 36_000.0 / 40_000},
		{"memory population p99", r.VelocityMemoryPopulationP99PerOff, 5.5 / 5},
		{"memory population server CPU", r.VelocityMemoryPopulationServerCPUPerOff, 60.0 / 50},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestFeaturePlan: the full plan measures the archive against the plain
// backlog's traffic, and velocity kv against off on the same traffic, with
// FRAUDSCORE_VELOCITY=kv the only difference; the quick plan has none of
// them.
func TestFeaturePlan(t *testing.T) {
	byName := map[string]Scenario{}
	for _, sc := range Plan(false) {
		byName[sc.Name] = sc
	}
	for _, sc := range Plan(true) {
		if strings.Contains(sc.Name, "velocity") || sc.Name == ScenarioArchiveBacklog {
			t.Errorf("quick plan has %s", sc.Name)
		}
	}
	a, ok := byName[ScenarioArchiveBacklog]
	if !ok || !a.Backlog || a.Load.Count != byName[ScenarioBacklog].Load.Count || strings.Join(a.Env, " ") != "FRAUDSCORE_ARCHIVE=true" {
		t.Errorf("archive scenario %+v, want the plain backlog's with FRAUDSCORE_ARCHIVE=true", a)
	}
	for _, backlog := range []bool{true, false} {
		for _, pop := range []bool{false, true} {
			off, kv := byName[VelocityScenario(false, backlog, pop)], byName[VelocityScenario(true, backlog, pop)]
			if off.Name == "" || kv.Name == "" {
				t.Fatalf("missing velocity scenarios (backlog %v, population %v)", backlog, pop)
			}
			if len(off.Env) != 0 || strings.Join(kv.Env, " ") != "FRAUDSCORE_VELOCITY=kv" {
				t.Errorf("%s env %v, %s env %v", off.Name, off.Env, kv.Name, kv.Env)
			}
			if fmt.Sprint(off.Load) != fmt.Sprint(kv.Load) || off.Backlog != backlog || kv.Backlog != backlog || off.PopulationCards != kv.PopulationCards ||
				(off.PopulationCards > 0) != pop {
				t.Errorf("%s and %s differ beyond velocity: %+v / %+v", off.Name, kv.Name, off, kv)
			}
			mem := byName[VelocityMemoryScenario(backlog, pop)]
			if strings.Join(mem.Env, " ") != "FRAUDSCORE_VELOCITY=kv FRAUDSCORE_VELOCITY_STORAGE=memory" || fmt.Sprint(mem.Load) != fmt.Sprint(kv.Load) ||
				mem.Backlog != backlog || mem.PopulationCards != kv.PopulationCards {
				t.Errorf("%s differs from %s beyond the bucket's storage: %+v / %+v", mem.Name, kv.Name, mem, kv)
			}
			if !backlog && off.Load.Rate != 2000 {
				t.Errorf("%s: rate %v, want 2000", off.Name, off.Load.Rate)
			}
		}
	}
	if !selected(VelocityScenario(true, false, true), "velocity") || selected(ScenarioBacklog, "velocity") {
		t.Error("-only velocity must select the velocity scenarios alone")
	}
}

// TestFeatureSeries reads the velocity and archive series from a metrics
// page, labels kept, histogram buckets and other series left out.
func TestFeatureSeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# HELP fraudscore_velocity_degraded_total x
# TYPE fraudscore_velocity_degraded_total counter
fraudscore_velocity_degraded_total{reason="timeout"} 3
fraudscore_velocity_updates_total{key="card"} 1000
fraudscore_velocity_seconds_bucket{le="0.001"} 5
fraudscore_velocity_seconds_count 1000
fraudscore_archive_publishes_total{result="stored"} 999
fraudscore_messages_acked_total 1000
`)
	}))
	defer srv.Close()
	got, err := FeatureSeries(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		`fraudscore_velocity_degraded_total{reason="timeout"}`: 3, `fraudscore_velocity_updates_total{key="card"}`: 1000,
		`fraudscore_velocity_seconds_count`: 1000, `fraudscore_archive_publishes_total{result="stored"}`: 999,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSelected(t *testing.T) {
	for _, c := range []struct {
		name, only string
		want       bool
	}{
		{ScenarioBacklog, "", true},
		{ScenarioRulesBacklog, "fraudscore backlog", true},
		{ScenarioRulesBacklog, "=fraudscore backlog", false},
		{ScenarioBacklog, "=fraudscore backlog|50 rules", true},
		{ScenarioRulesBacklog, "=fraudscore backlog|50 rules", true},
		{ScenarioChallengerBacklog, "=fraudscore backlog|50 rules", false},
		{ScenarioChallengerBacklog, "|", false},
	} {
		if got := selected(c.name, c.only); got != c.want {
			t.Errorf("selected(%q, %q) = %v, want %v", c.name, c.only, got, c.want)
		}
	}
}
