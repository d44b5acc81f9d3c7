package bench

import (
	"reflect"
	"slices"
)

// Scenario names the ratios refer to.
const (
	ScenarioNatsBench          = "nats-bench"
	ScenarioNatsService        = "nats-bench-service"
	ScenarioPassThroughBacklog = "pass-through backlog"
	ScenarioBacklog            = "fraudscore backlog"
	ScenarioPassThroughMax     = "pass-through max"
	ScenarioMax                = "fraudscore max"
	ScenarioRequestMax         = "request max c32"
	ScenarioTwoWorkersBacklog  = "2 workers backlog"
	ScenarioChallengerBacklog  = "fraudscore backlog, challenger in shadow"
	ScenarioReasonsOffBacklog  = "fraudscore backlog, reasons off"
	ScenarioRulesBacklog       = "fraudscore backlog, 50 rules"
	ScenarioArchiveBacklog     = "fraudscore backlog, archive"
)

// Ratios are fraudscore's throughput over the baselines measured in the same
// run, on the same machine: unlike the absolute figures, they carry from one
// machine to another. A ratio is 0 when one of its scenarios failed or was
// not run.
type Ratios struct {
	// BacklogPerTransportConsume is "fraudscore backlog" verdicts/s over
	// `nats bench js consume` msgs/s ("nats-bench").
	BacklogPerTransportConsume float64 `json:"backlog_per_transport_consume" desc:"fraudscore backlog verdicts/s ÷ nats bench js consume msgs/s"`
	// BacklogPerTransportPublish is "fraudscore backlog" verdicts/s over
	// `nats bench js pub async` msgs/s ("nats-bench").
	BacklogPerTransportPublish float64 `json:"backlog_per_transport_publish" desc:"fraudscore backlog verdicts/s ÷ nats bench js pub async msgs/s"`
	// PassThroughBacklogPerTransportConsume is "pass-through backlog"
	// verdicts/s over `nats bench js consume` msgs/s: the worker's plumbing
	// (consume, publish a verdict, ack) against the transport alone.
	PassThroughBacklogPerTransportConsume float64 `json:"pass_through_backlog_per_transport_consume" desc:"pass-through backlog verdicts/s ÷ nats bench js consume msgs/s"`
	// BacklogPerPassThrough is "fraudscore backlog" over "pass-through
	// backlog" verdicts/s: the cost of decoding and scoring.
	BacklogPerPassThrough float64 `json:"backlog_per_pass_through" desc:"fraudscore backlog ÷ pass-through backlog verdicts/s"`
	// MaxPerPassThrough is "fraudscore max" over "pass-through max"
	// verdicts/s, with the publisher running on the same machine.
	MaxPerPassThrough float64 `json:"max_per_pass_through" desc:"fraudscore max ÷ pass-through max verdicts/s (publisher running)"`
	// RequestPerServiceBench is "request max c32" replies/s over `nats bench
	// service request` replies/s ("nats-bench-service", same clients and
	// message size).
	RequestPerServiceBench float64 `json:"request_per_service_bench" desc:"request max c32 replies/s ÷ nats bench service requests/s"`
	// TwoWorkersBacklogPerOne is "2 workers backlog" over "fraudscore
	// backlog" verdicts/s.
	TwoWorkersBacklogPerOne float64 `json:"two_workers_backlog_per_one" desc:"2 workers backlog ÷ fraudscore backlog verdicts/s"`
	// ChallengerShadowPerNone is "fraudscore backlog, challenger in shadow"
	// over "fraudscore backlog" verdicts/s: the cost of scoring every
	// transaction with a second model (target: at least 0.8).
	ChallengerShadowPerNone float64 `json:"challenger_shadow_per_none" desc:"fraudscore backlog with a challenger in shadow ÷ fraudscore backlog verdicts/s"`
	// ReasonsFlaggedPerOff is "fraudscore backlog" (reason codes on flagged
	// verdicts, the default) over "fraudscore backlog, reasons off"
	// verdicts/s: the cost of exact TreeSHAP reason codes at the synthetic
	// traffic mix (target: at least 0.9).
	ReasonsFlaggedPerOff float64 `json:"reasons_flagged_per_off" desc:"fraudscore backlog (FRAUDSCORE_REASONS=flagged) ÷ fraudscore backlog with FRAUDSCORE_REASONS=off verdicts/s"`
	// RulesPerNone is "fraudscore backlog, 50 rules" over "fraudscore
	// backlog" (rules off) verdicts/s: the cost of 50 typical analyst
	// rules on every transaction (target: at least 0.9).
	RulesPerNone float64 `json:"rules_per_none" desc:"fraudscore backlog with 50 typical rules ÷ fraudscore backlog without rules verdicts/s"`
	// ArchivePerOff is "fraudscore backlog, archive" over "fraudscore
	// backlog" verdicts/s: the cost of the archive copy of every
	// transaction (FRAUDSCORE_ARCHIVE=true, ADR 0021).
	ArchivePerOff float64 `json:"archive_per_off" desc:"fraudscore backlog with FRAUDSCORE_ARCHIVE=true ÷ fraudscore backlog verdicts/s"`
	// VelocityBacklogPerOff is "velocity kv, backlog" over "velocity off,
	// backlog" verdicts/s, a new card per event (target: at least 0.5).
	VelocityBacklogPerOff float64 `json:"velocity_backlog_per_off" desc:"backlog with FRAUDSCORE_VELOCITY=kv ÷ velocity off verdicts/s (a new card per event)"`
	// VelocityP99PerOff is the p99 end-to-end latency of "velocity kv,
	// 2k/s" over that of "velocity off, 2k/s" (target: at most 3).
	VelocityP99PerOff float64 `json:"velocity_p99_per_off" desc:"p99 latency at 2k/s with FRAUDSCORE_VELOCITY=kv ÷ velocity off (a new card per event)"`
	// VelocityServerCPUPerOff is the NATS server's CPU per verdict in
	// "velocity kv, backlog" over "velocity off, backlog".
	VelocityServerCPUPerOff float64 `json:"velocity_server_cpu_per_off" desc:"NATS server CPU per verdict, backlog with FRAUDSCORE_VELOCITY=kv ÷ velocity off (a new card per event)"`
	// VelocityPopulationBacklogPerOff, VelocityPopulationP99PerOff and
	// VelocityPopulationServerCPUPerOff are the same with population
	// traffic (cards and devices that pay again and again, raw events).
	VelocityPopulationBacklogPerOff   float64 `json:"velocity_population_backlog_per_off" desc:"backlog with FRAUDSCORE_VELOCITY=kv ÷ velocity off verdicts/s (population traffic)"`
	VelocityPopulationP99PerOff       float64 `json:"velocity_population_p99_per_off" desc:"p99 latency at 2k/s with FRAUDSCORE_VELOCITY=kv ÷ velocity off (population traffic)"`
	VelocityPopulationServerCPUPerOff float64 `json:"velocity_population_server_cpu_per_off" desc:"NATS server CPU per verdict, backlog with FRAUDSCORE_VELOCITY=kv ÷ velocity off (population traffic)"`
	// VelocityMemory... are the six velocity ratios above with the bucket
	// in memory (FRAUDSCORE_VELOCITY_STORAGE=memory), against the same off
	// scenarios.
	VelocityMemoryBacklogPerOff             float64 `json:"velocity_memory_backlog_per_off" desc:"backlog with FRAUDSCORE_VELOCITY=kv and FRAUDSCORE_VELOCITY_STORAGE=memory ÷ velocity off verdicts/s (a new card per event)"`
	VelocityMemoryP99PerOff                 float64 `json:"velocity_memory_p99_per_off" desc:"p99 latency at 2k/s with the velocity bucket in memory ÷ velocity off (a new card per event)"`
	VelocityMemoryServerCPUPerOff           float64 `json:"velocity_memory_server_cpu_per_off" desc:"NATS server CPU per verdict, backlog with the velocity bucket in memory ÷ velocity off (a new card per event)"`
	VelocityMemoryPopulationBacklogPerOff   float64 `json:"velocity_memory_population_backlog_per_off" desc:"backlog with the velocity bucket in memory ÷ velocity off verdicts/s (population traffic)"`
	VelocityMemoryPopulationP99PerOff       float64 `json:"velocity_memory_population_p99_per_off" desc:"p99 latency at 2k/s with the velocity bucket in memory ÷ velocity off (population traffic)"`
	VelocityMemoryPopulationServerCPUPerOff float64 `json:"velocity_memory_population_server_cpu_per_off" desc:"NATS server CPU per verdict, backlog with the velocity bucket in memory ÷ velocity off (population traffic)"`
}

// ComputeRatios fills res.Ratios from its results. With several rounds it
// computes each round's ratios into res.RatioRounds (each ratio from the
// scenarios of that round only) and sets each of res.Ratios to the median of
// that ratio over the rounds where it could be computed.
func (res *Results) ComputeRatios() {
	if res.Rounds <= 1 {
		res.RatioRounds, res.ScenarioMedians = nil, nil
		res.Ratios = res.roundRatios(0)
		return
	}
	res.RatioRounds = make([]Ratios, res.Rounds)
	for i := range res.RatioRounds {
		res.RatioRounds[i] = res.roundRatios(i + 1)
	}
	res.Ratios = medianRatios(res.RatioRounds)
	res.ScenarioMedians = res.scenarioMedians()
}

// ScenarioMedian is one scenario's figures over the rounds of a run: for
// each, the median of the rounds where the scenario ran without error (0
// when none gave the figure).
type ScenarioMedian struct {
	Name string `json:"name"`
	// Rounds is how many rounds the medians are over.
	Rounds            int     `json:"rounds"`
	Throughput        float64 `json:"throughput"`
	BacklogThroughput float64 `json:"backlog_throughput,omitempty"`
	P99Ms             float64 `json:"p99_ms"`
	// ServerCPUus and WorkerCPUus are CPU µs per verdict of the NATS
	// server and of the workers (CPUPerVerdict).
	ServerCPUus float64 `json:"server_cpu_us_per_verdict"`
	WorkerCPUus float64 `json:"worker_cpu_us_per_verdict"`
}

// scenarioMedians returns the median figures of each scenario over the
// rounds, in the order the scenarios first ran.
func (res *Results) scenarioMedians() []ScenarioMedian {
	var names []string
	by := map[string][]*Result{}
	for i := range res.Results {
		r := &res.Results[i]
		if _, ok := by[r.Name]; !ok {
			names = append(names, r.Name)
			by[r.Name] = nil
		}
		if r.Err == "" && r.Report != nil {
			by[r.Name] = append(by[r.Name], r)
		}
	}
	out := make([]ScenarioMedian, 0, len(names))
	for _, name := range names {
		rs := by[name]
		of := func(f func(r *Result) float64) float64 {
			var vals []float64
			for _, r := range rs {
				if v := f(r); v > 0 {
					vals = append(vals, v)
				}
			}
			return median(vals)
		}
		cpu := func(f func(c *CPUPerVerdict) float64) func(r *Result) float64 {
			return func(r *Result) float64 {
				if r.CPUPerVerdict == nil {
					return 0
				}
				return f(r.CPUPerVerdict)
			}
		}
		out = append(out, ScenarioMedian{
			Name: name, Rounds: len(rs),
			Throughput:        of(func(r *Result) float64 { return r.Report.Throughput }),
			BacklogThroughput: of(func(r *Result) float64 { return r.Report.BacklogThroughput }),
			P99Ms:             of(func(r *Result) float64 { return r.Report.Latency.P99 }),
			ServerCPUus:       of(cpu(func(c *CPUPerVerdict) float64 { return c.Server })),
			WorkerCPUus:       of(cpu(func(c *CPUPerVerdict) float64 { return c.Worker })),
		})
	}
	return out
}

// medianRatios returns, field by field, the median of the non-zero values
// (the mean of the middle two for an even count; 0 when all are 0).
func medianRatios(rounds []Ratios) Ratios {
	var m Ratios
	mv := reflect.ValueOf(&m).Elem()
	for f := range mv.NumField() {
		var vals []float64
		for _, r := range rounds {
			if v := reflect.ValueOf(r).Field(f).Float(); v > 0 {
				vals = append(vals, v)
			}
		}
		mv.Field(f).SetFloat(median(vals))
	}
	return m
}

// median returns the median of vals (0 for none); it sorts vals.
func median(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}

// roundRatios computes the ratios from the results of one round (0: a
// single-round run).
func (res *Results) roundRatios(round int) Ratios {
	backlog := func(name string) float64 {
		if r := res.find(name, round); r != nil && r.Report != nil {
			return r.Report.BacklogThroughput
		}
		return 0
	}
	throughput := func(name string) float64 {
		if r := res.find(name, round); r != nil && r.Report != nil {
			return r.Report.Throughput
		}
		return 0
	}
	p99 := func(name string) float64 {
		if r := res.find(name, round); r != nil && r.Report != nil {
			return r.Report.Latency.P99
		}
		return 0
	}
	serverCPU := func(name string) float64 {
		if r := res.find(name, round); r != nil && r.CPUPerVerdict != nil {
			return r.CPUPerVerdict.Server
		}
		return 0
	}
	var consume, publish, service float64
	if r := res.find(ScenarioNatsBench, round); r != nil {
		consume, publish = r.NatsConsume, r.NatsPub
	}
	if r := res.find(ScenarioNatsService, round); r != nil {
		service = r.NatsServiceRate
	}
	return Ratios{
		BacklogPerTransportConsume:            ratio(backlog(ScenarioBacklog), consume),
		BacklogPerTransportPublish:            ratio(backlog(ScenarioBacklog), publish),
		PassThroughBacklogPerTransportConsume: ratio(backlog(ScenarioPassThroughBacklog), consume),
		BacklogPerPassThrough:                 ratio(backlog(ScenarioBacklog), backlog(ScenarioPassThroughBacklog)),
		MaxPerPassThrough:                     ratio(throughput(ScenarioMax), throughput(ScenarioPassThroughMax)),
		RequestPerServiceBench:                ratio(throughput(ScenarioRequestMax), service),
		TwoWorkersBacklogPerOne:               ratio(backlog(ScenarioTwoWorkersBacklog), backlog(ScenarioBacklog)),
		ChallengerShadowPerNone:               ratio(backlog(ScenarioChallengerBacklog), backlog(ScenarioBacklog)),
		ReasonsFlaggedPerOff:                  ratio(backlog(ScenarioBacklog), backlog(ScenarioReasonsOffBacklog)),
		RulesPerNone:                          ratio(backlog(ScenarioRulesBacklog), backlog(ScenarioBacklog)),
		ArchivePerOff:                         ratio(backlog(ScenarioArchiveBacklog), backlog(ScenarioBacklog)),
		VelocityBacklogPerOff:                 ratio(backlog(VelocityScenario(true, true, false)), backlog(VelocityScenario(false, true, false))),
		VelocityP99PerOff:                     ratio(p99(VelocityScenario(true, false, false)), p99(VelocityScenario(false, false, false))),
		VelocityServerCPUPerOff:               ratio(serverCPU(VelocityScenario(true, true, false)), serverCPU(VelocityScenario(false, true, false))),
		VelocityPopulationBacklogPerOff:       ratio(backlog(VelocityScenario(true, true, true)), backlog(VelocityScenario(false, true, true))),
		VelocityPopulationP99PerOff:           ratio(p99(VelocityScenario(true, false, true)), p99(VelocityScenario(false, false, true))),
		VelocityPopulationServerCPUPerOff:     ratio(serverCPU(VelocityScenario(true, true, true)), serverCPU(VelocityScenario(false, true, true))),

		VelocityMemoryBacklogPerOff:             ratio(backlog(VelocityMemoryScenario(true, false)), backlog(VelocityScenario(false, true, false))),
		VelocityMemoryP99PerOff:                 ratio(p99(VelocityMemoryScenario(false, false)), p99(VelocityScenario(false, false, false))),
		VelocityMemoryServerCPUPerOff:           ratio(serverCPU(VelocityMemoryScenario(true, false)), serverCPU(VelocityScenario(false, true, false))),
		VelocityMemoryPopulationBacklogPerOff:   ratio(backlog(VelocityMemoryScenario(true, true)), backlog(VelocityScenario(false, true, true))),
		VelocityMemoryPopulationP99PerOff:       ratio(p99(VelocityMemoryScenario(false, true)), p99(VelocityScenario(false, false, true))),
		VelocityMemoryPopulationServerCPUPerOff: ratio(serverCPU(VelocityMemoryScenario(true, true)), serverCPU(VelocityScenario(false, true, true))),
	}
}

func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return a / b
}

// find returns the result of the named scenario in round (0: a
// single-round run), if it ran without error.
func (res *Results) find(name string, round int) *Result {
	for i := range res.Results {
		if res.Results[i].Name == name && res.Results[i].Round == round && res.Results[i].Err == "" {
			return &res.Results[i]
		}
	}
	return nil
}

// RatioRow is one ratio for a table: its JSON key, what it divides, value.
type RatioRow struct {
	Key, Desc string
	Value     float64
}

// Rows lists the ratios in field order, from their struct tags.
func (r Ratios) Rows() []RatioRow {
	v, t := reflect.ValueOf(r), reflect.TypeOf(r)
	rows := make([]RatioRow, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		rows = append(rows, RatioRow{Key: f.Tag.Get("json"), Desc: f.Tag.Get("desc"), Value: v.Field(i).Float()})
	}
	return rows
}
