package bench

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/loadtest"
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
		Git:     Git{Commit: "0123456789abcdef0123456789abcdef01234567", Dirty: true},
		Machine: Machine{Hostname: "bench-host", NProc: 2, CPU: "Test CPU", Kernel: "6.1.0", GoVersion: "go1.26", OS: "linux/amd64"},
		Command: "make bench",
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
