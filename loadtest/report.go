package loadtest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fraudscore/fraudscore/synthetic"
)

// Histogram range: 1 µs to 10 minutes, 3 significant digits.
const (
	histMinMicros = 1
	histMaxMicros = int64(10 * time.Minute / time.Microsecond)
	histSigFigs   = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
}

// recordNanos records a latency in nanoseconds, clamped to the histogram's
// range (a negative value, from a clock step, counts as 1 µs).
func recordNanos(h *hdrhistogram.Histogram, ns int64) {
	us := ns / 1000
	if us < histMinMicros {
		us = histMinMicros
	}
	if us > histMaxMicros {
		us = histMaxMicros
	}
	_ = h.RecordValue(us)
}

// Latency summarises a latency distribution in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// LatencyOf summarises h (recorded in microseconds).
func LatencyOf(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// Decision columns of the confusion matrix.
var decisionNames = [...]string{"approve", "review", "decline", "other"}

func decisionIndex(d string) int {
	switch d {
	case "approve":
		return 0
	case "review":
		return 1
	case "decline":
		return 2
	}
	return 3
}

// scenario rows: index 0 is legit, then synthetic.FraudScenarios in order.
const numScenarios = 1 + len(synthetic.FraudScenarios)

func scenarioIndex(l synthetic.Label) int {
	if !l.Fraud {
		return 0
	}
	for i, s := range synthetic.FraudScenarios {
		if s == l.Scenario {
			return i + 1
		}
	}
	return len(synthetic.FraudScenarios) // unknown fraud: count with the last
}

func scenarioName(i int) string {
	if i == 0 {
		return string(synthetic.Legit)
	}
	return string(synthetic.FraudScenarios[i-1])
}

// Confusion is the decision mix against the generator's ground truth.
type Confusion struct {
	// ByScenario maps a scenario ("legit", "card_testing", ...) to counts by
	// decision ("approve", "review", "decline", "other").
	ByScenario map[string]map[string]int64 `json:"by_scenario"`
	// Legit and Fraud are the rows summed by truth.
	Legit map[string]int64 `json:"legit"`
	Fraud map[string]int64 `json:"fraud"`
	// FraudFlagged is the share of fraud given review or decline (recall).
	FraudFlagged float64 `json:"fraud_flagged"`
	// FraudDeclined is the share of fraud declined.
	FraudDeclined float64 `json:"fraud_declined"`
	// LegitDeclined is the share of legitimate traffic declined.
	LegitDeclined float64 `json:"legit_declined"`
	// LegitFlagged is the share of legitimate traffic sent to review or declined.
	LegitFlagged float64 `json:"legit_flagged"`
	// FlaggedPrecision is the share of fraud among review and decline.
	FlaggedPrecision float64 `json:"flagged_precision"`
}

func newConfusion(m *[numScenarios][len(decisionNames)]int64) Confusion {
	c := Confusion{ByScenario: map[string]map[string]int64{}, Legit: map[string]int64{}, Fraud: map[string]int64{}}
	for s := range numScenarios {
		row := map[string]int64{}
		for d, name := range decisionNames {
			row[name] = m[s][d]
			if s == 0 {
				c.Legit[name] += m[s][d]
			} else {
				c.Fraud[name] += m[s][d]
			}
		}
		c.ByScenario[scenarioName(s)] = row
	}
	ratio := func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	sum := func(r map[string]int64) int64 {
		var t int64
		for _, v := range r {
			t += v
		}
		return t
	}
	fraudN, legitN := sum(c.Fraud), sum(c.Legit)
	fraudFlag := c.Fraud["review"] + c.Fraud["decline"]
	legitFlag := c.Legit["review"] + c.Legit["decline"]
	c.FraudFlagged = ratio(fraudFlag, fraudN)
	c.FraudDeclined = ratio(c.Fraud["decline"], fraudN)
	c.LegitDeclined = ratio(c.Legit["decline"], legitN)
	c.LegitFlagged = ratio(legitFlag, legitN)
	c.FlaggedPrecision = ratio(fraudFlag, fraudFlag+legitFlag)
	return c
}

// Report is the outcome of a run; it marshals to the JSON report.
type Report struct {
	Mode        string    `json:"mode"`
	Verdicts    string    `json:"verdict_source,omitempty"`
	PassThrough bool      `json:"pass_through,omitempty"`
	TargetRate  float64   `json:"target_rate"` // 0: as fast as possible
	Window      int       `json:"window,omitempty"`
	Concurrency int       `json:"concurrency,omitempty"`
	RunID       string    `json:"run_id"`
	Seed        uint64    `json:"seed"`
	Started     time.Time `json:"started"`

	// Sent counts publishes (or requests) made; Published those the server
	// stored (PubAck), PublishErrors those it did not confirm.
	Sent          int64 `json:"sent"`
	Published     int64 `json:"published"`
	PublishErrors int64 `json:"publish_errors"`

	// Matched counts transactions whose verdict (or reply) the latency
	// probe saw: evidence of publication, not of storage.
	Matched int64 `json:"matched"`
	// Missing counts transactions without what they must have: in
	// ModeStream, from the stored check (Stored.Missing); in ModeRequest,
	// requests without a reply or an error.
	Missing int64 `json:"missing"`
	// DuplicateDeliveries counts verdicts the probe saw beyond the first per
	// id: with the stream source these are stored duplicates; with the core
	// source, re-publishes (JetStream may have de-duplicated them).
	DuplicateDeliveries int64 `json:"duplicate_deliveries"`
	// StoredVerdicts counts the verdicts of this run the verdict stream
	// stored, and StoredDuplicates the transactions with more than one
	// verdict or dead letter stored (ModeStream; from Stored).
	StoredVerdicts   int64 `json:"stored_verdicts"`
	StoredDuplicates int64 `json:"stored_duplicates"`
	// Stored is the check, by transaction id, of what the verdict and
	// dead-letter streams stored for this run (ModeStream; see VerifyStored).
	Stored *Integrity `json:"stored,omitempty"`
	// DeadLetters counts the dead letters of this run's transactions the
	// probe saw, by reason; ForeignDeadLetters those of other traffic.
	DeadLetters        map[string]int64 `json:"dead_letters"`
	ForeignDeadLetters int64            `json:"foreign_dead_letters"`
	// Foreign counts verdicts the probe saw that were not for this run.
	Foreign int64 `json:"foreign_verdicts"`
	// Errors counts failed requests by kind (ModeRequest): "timeout",
	// "no_responders", or the service's error code ("400", "503"...).
	Errors map[string]int64 `json:"errors,omitempty"`

	// SendSeconds is the sending phase; Seconds is from the first intended
	// send to the last verdict.
	SendSeconds float64 `json:"send_seconds"`
	Seconds     float64 `json:"seconds"`
	// SendRate is Sent / SendSeconds; Throughput is Matched / Seconds.
	SendRate   float64 `json:"send_rate"`
	Throughput float64 `json:"throughput"`
	// BacklogSeconds and BacklogThroughput measure the drain of a preloaded
	// backlog, from the return of Config.AfterSend to the last verdict.
	BacklogSeconds    float64 `json:"backlog_seconds,omitempty"`
	BacklogThroughput float64 `json:"backlog_throughput,omitempty"`
	// Latency is end to end: from the intended send time to the verdict's
	// arrival (or the reply).
	Latency   Latency   `json:"latency"`
	Confusion Confusion `json:"confusion"`
	// HitHardCap is true when the run was cut by MaxDuration or cancelled.
	HitHardCap bool `json:"hit_hard_cap"`
}

// OK reports whether the run lost nothing and duplicated nothing: in
// ModeStream, the streams stored exactly what each transaction must have
// (Stored.OK).
func (r *Report) OK() bool {
	if r.Mode == ModeStream && (r.Stored == nil || !r.Stored.OK()) {
		return false
	}
	return r.Missing == 0 && (r.Verdicts != VerdictsStream || r.DuplicateDeliveries == 0) &&
		r.PublishErrors == 0 && len(r.Errors) == 0
}

// setStored records the stored check's outcome.
func (r *Report) setStored(g *Integrity) {
	r.Stored = g
	r.Missing = g.Missing
	r.StoredVerdicts = g.Verdicts
	r.StoredDuplicates = g.DuplicateVerdicts + g.DuplicateDeadLetters
}

// WriteSummary writes a human-readable summary.
func (r *Report) WriteSummary(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rate := "max"
	if r.TargetRate > 0 {
		rate = fmt.Sprintf("%.0f/s", r.TargetRate)
	}
	mode := r.Mode
	if r.PassThrough {
		mode += " (pass-through worker)"
	}
	if r.Mode == ModeRequest {
		mode += fmt.Sprintf(", concurrency %d", r.Concurrency)
	} else {
		mode += fmt.Sprintf(", verdicts via %s, window %d", r.Verdicts, r.Window)
	}
	fmt.Fprintf(tw, "run\t%s  mode %s  rate %s  seed %d\n", r.RunID, mode, rate, r.Seed)
	fmt.Fprintf(tw, "sent\t%d in %.2fs (%.0f/s); stored %d, publish errors %d\n", r.Sent, r.SendSeconds, r.SendRate, r.Published, r.PublishErrors)
	fmt.Fprintf(tw, "verdicts\t%d in %.2fs: %.0f/s\n", r.Matched, r.Seconds, r.Throughput)
	if r.BacklogThroughput > 0 {
		fmt.Fprintf(tw, "backlog\tcleared in %.2fs: %.0f/s\n", r.BacklogSeconds, r.BacklogThroughput)
	}
	l := r.Latency
	probe := "reply"
	if r.Mode == ModeStream {
		probe = "latency probe: " + r.Verdicts
	}
	fmt.Fprintf(tw, "latency ms\tp50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f; %s)\n", l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean, probe)
	if g := r.Stored; g != nil {
		fmt.Fprintf(tw, "stored\tverdicts %d  dead letters %d [%s] of %d expected  (seqs %d-%d / %d-%d, foreign %d, settled %v in %.1fs)\n",
			g.Verdicts, g.DeadLetters, countsString(g.DeadLetterReasons), g.Expected, g.VerdictSeqs[0], g.VerdictSeqs[1], g.DLQSeqs[0], g.DLQSeqs[1], g.Foreign, g.Settled, g.WaitSeconds)
		fmt.Fprintf(tw, "integrity\tmissing %d  duplicate verdicts %d  duplicate dead letters %d  both %d  unexpected %d  Msg-Id mismatches %d\n",
			g.Missing, g.DuplicateVerdicts, g.DuplicateDeadLetters, g.Both, g.Unexpected, g.MismatchedIDs)
		if err := g.Err(); err != nil {
			fmt.Fprintf(tw, "\t%v\n", err)
		}
	} else {
		fmt.Fprintf(tw, "integrity\tmissing %d\n", r.Missing)
	}
	fmt.Fprintf(tw, "probe\tduplicate deliveries %d  foreign %d  dead letters %s (other traffic: %d)\n", r.DuplicateDeliveries, r.Foreign, countsString(r.DeadLetters), r.ForeignDeadLetters)
	if len(r.Errors) > 0 {
		fmt.Fprintf(tw, "errors\t%s\n", countsString(r.Errors))
	}
	_ = tw.Flush()
	if !r.PassThrough && r.Matched > 0 {
		fmt.Fprintf(w, "decisions vs ground truth:\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "truth\tapprove\treview\tdecline\tother\t\n")
		for s := range numScenarios {
			row := r.Confusion.ByScenario[scenarioName(s)]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", scenarioName(s), row["approve"], row["review"], row["decline"], row["other"])
		}
		_ = tw.Flush()
		c := r.Confusion
		fmt.Fprintf(w, "fraud flagged %.1f%% (declined %.1f%%); legit flagged %.2f%% (declined %.2f%%); precision of flags %.1f%%\n",
			100*c.FraudFlagged, 100*c.FraudDeclined, 100*c.LegitFlagged, 100*c.LegitDeclined, 100*c.FlaggedPrecision)
	}
	verdict := "OK: nothing missing, nothing duplicated"
	if r.Stored != nil {
		verdict = "OK: the streams hold exactly one verdict or dead letter per transaction, as expected"
	}
	if !r.OK() {
		verdict = "FAILED: see missing, duplicates and errors above"
	}
	if r.HitHardCap {
		verdict += " (cut by the hard cap or cancelled)"
	}
	fmt.Fprintln(w, verdict)
}

func countsString(m map[string]int64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
