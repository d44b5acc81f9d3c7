package chaos

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/loadtest/bench"
)

// sample is one reading of the workers' /metrics. A scrape that failed (a
// busy machine, the 2 s client timeout) is recorded as null.
type sample struct {
	AtSeconds  float64    `json:"at_seconds"`
	Confirmed  int64      `json:"confirmed_publishes"`
	RSS        []*float64 `json:"rss_bytes"` // per worker
	Goroutines []*float64 `json:"goroutines"`
}

// trend summarises one series: the means of the first and the last third
// of the samples and the least-squares slope per minute.
type trend struct {
	First       float64 `json:"first_third_mean"`
	Last        float64 `json:"last_third_mean"`
	SlopePerMin float64 `json:"slope_per_min"`
}

// trendOf fits the series ys over minutes; missing samples are left out.
func trendOf(minutes []float64, ys []*float64) trend {
	var xs, vs []float64
	for i, y := range ys {
		if y != nil {
			xs, vs = append(xs, minutes[i]), append(vs, *y)
		}
	}
	n := len(vs)
	if n < 3 {
		return trend{}
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	third := n / 3
	var sx, sy, sxx, sxy float64
	for i, y := range vs {
		sx += xs[i]
		sy += y
		sxx += xs[i] * xs[i]
		sxy += xs[i] * y
	}
	fn := float64(n)
	slope := (fn*sxy - sx*sy) / (fn*sxx - sx*sx)
	return trend{First: mean(vs[:third]), Last: mean(vs[n-third:]), SlopePerMin: slope}
}

// flatRSS: the last third's mean resident memory is within 10% (+8 MiB of
// allocator slack) of the first third's.
func flatRSS(tr trend) bool { return tr.Last <= tr.First*1.10+8<<20 }

// flatGoroutines: the last third's mean goroutine count is within 10% (+5)
// of the first third's.
func flatGoroutines(tr trend) bool { return tr.Last <= tr.First*1.10+5 }

// workerTrend is one worker's verdict in the soak report.
type workerTrend struct {
	Worker     string `json:"worker"`
	RSS        trend  `json:"rss_bytes"`
	RSSFlat    bool   `json:"rss_flat"`
	Goroutines trend  `json:"goroutines"`
	GorFlat    bool   `json:"goroutines_flat"`
}

// soakReport is everything a soak run measured; the markdown is rendered
// from it, and it is written beside the markdown as JSON.
type soakReport struct {
	Run          runInfo        `json:"run"`
	Command      string         `json:"command"`
	Duration     string         `json:"duration"`
	Rate         float64        `json:"rate_per_s"`
	EverySeconds float64        `json:"sample_every_seconds"`
	WarmSeconds  float64        `json:"warmup_seconds"`
	Workers      []string       `json:"workers"`
	Samples      []sample       `json:"samples"`
	Trends       []workerTrend  `json:"trends"`
	Flat         bool           `json:"flat"`
	Counts       counts         `json:"counts"`
	IntegrityErr string         `json:"integrity_error,omitempty"`
	Failed       bool           `json:"test_failed"`
	Finished     time.Time      `json:"finished"`
	LoadAvgEnd   bench.LoadAvgs `json:"loadavg_end"`
}

// TestSoak runs FRAUDSCORE_SOAK (e.g. 10m) of steady traffic at
// FRAUDSCORE_SOAK_RATE (default 2000/s) through two workers, samples their
// resident memory and goroutines every 10 s, checks that both are flat and
// that every transaction has exactly one stored verdict (read by id), and
// writes the report (JSON samples and the markdown rendered from them) to
// FRAUDSCORE_SOAK_REPORT (a directory; make soak uses docs/soak).
func TestSoak(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("FRAUDSCORE_SOAK"))
	if err != nil || dur <= 0 {
		t.Skip("set FRAUDSCORE_SOAK=10m to run the soak (make soak)")
	}
	if dur > 2*time.Hour {
		t.Fatalf("FRAUDSCORE_SOAK=%s: at most 2h", dur)
	}
	rate := 2000.0
	if v := os.Getenv("FRAUDSCORE_SOAK_RATE"); v != "" {
		if rate, err = strconv.ParseFloat(v, 64); err != nil || rate <= 0 || rate > 20000 {
			t.Fatalf("FRAUDSCORE_SOAK_RATE=%q: want 1..20000", v)
		}
	}
	every := 10 * time.Second
	warm := min(time.Minute, dur/10) // excluded from the trends: buffers, publish window and allocator fill up
	rep := &soakReport{Run: newRunInfo(t), Duration: dur.String(), Rate: rate, EverySeconds: every.Seconds(), WarmSeconds: warm.Seconds(),
		Command: fmt.Sprintf("FRAUDSCORE_SOAK=%s FRAUDSCORE_SOAK_RATE=%.0f go test -count=1 -run '^TestSoak$' -v ./chaos/", dur, rate)}
	t.Logf("SOAK run: %s", rep.Run)
	s := newSystem(t, singleNode, 2, "FRAUDSCORE_LOG_LEVEL=warn")
	for _, w := range s.workers {
		rep.Workers = append(rep.Workers, w.id)
	}
	ctx := withTimeout(t, dur+10*time.Minute)
	nc, err := connect(s.url, "soak-traffic")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tr := newTraffic(int(rate*dur.Seconds()), rate, 0)
	start := time.Now()
	pubDone := make(chan error, 1)
	go func() { pubDone <- tr.run(ctx, nc, 90*time.Second) }()

	take := func() {
		sm := sample{AtSeconds: time.Since(start).Round(time.Second).Seconds(), Confirmed: tr.acked.Load()}
		for _, w := range s.workers {
			rss, ok1 := w.metric("process_resident_memory_bytes")
			g, ok2 := w.metric("go_goroutines")
			if !ok1 || !ok2 {
				sm.RSS, sm.Goroutines = append(sm.RSS, nil), append(sm.Goroutines, nil)
				continue
			}
			sm.RSS, sm.Goroutines = append(sm.RSS, &rss), append(sm.Goroutines, &g)
		}
		rep.Samples = append(rep.Samples, sm)
		t.Logf("soak %6.0fs  confirmed %9d  rss %v MiB  goroutines %v", sm.AtSeconds, sm.Confirmed, mib(sm.RSS), plain(sm.Goroutines))
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	take()
	var pubErr error
sampling:
	for {
		select {
		case pubErr = <-pubDone:
			break sampling
		case <-tick.C:
			take()
		}
	}
	take()
	if pubErr != nil {
		t.Errorf("publish: %v", pubErr)
	}
	if err := quiesce(ctx, s.js, 3*time.Minute); err != nil {
		t.Errorf("%v", err)
	}
	c, err := verifyStored(ctx, s.js, tr)
	if err != nil {
		t.Fatal(err)
	}
	rep.Counts = c
	t.Logf("SOAK %s", c)
	if err := c.err(); err != nil {
		rep.IntegrityErr = err.Error()
		t.Errorf("exactly-once violated: %v", err)
	}
	rep.Trends, rep.Flat = soakTrends(rep.Workers, rep.Samples, warm)
	for _, wt := range rep.Trends {
		t.Logf("%s: rss %.1f -> %.1f MiB (slope %+.2f MiB/min, flat %v); goroutines %.0f -> %.0f (slope %+.2f/min, flat %v)", wt.Worker,
			wt.RSS.First/(1<<20), wt.RSS.Last/(1<<20), wt.RSS.SlopePerMin/(1<<20), wt.RSSFlat, wt.Goroutines.First, wt.Goroutines.Last, wt.Goroutines.SlopePerMin, wt.GorFlat)
	}
	if !rep.Flat {
		t.Errorf("resident memory or goroutines not flat (see the trend lines above)")
	}
	if dir := os.Getenv("FRAUDSCORE_SOAK_REPORT"); dir != "" {
		rep.Failed, rep.Finished, rep.LoadAvgEnd = t.Failed(), time.Now().UTC(), bench.ReadLoadAvg()
		md, err := writeReport(filepath.Join(repoPath(t, dir), rep.Run.Started.Format("2006-01-02")), rep)
		if err != nil {
			t.Errorf("report: %v", err)
		} else {
			t.Logf("report written to %s and its .json", md)
		}
	}
}

// soakTrends fits each worker's series after the warm-up.
func soakTrends(workers []string, samples []sample, warm time.Duration) ([]workerTrend, bool) {
	steady := samples
	for len(steady) > 3 && steady[0].AtSeconds < warm.Seconds() {
		steady = steady[1:]
	}
	minutes := make([]float64, len(steady))
	for i, sm := range steady {
		minutes[i] = sm.AtSeconds / 60
	}
	var out []workerTrend
	flat := true
	for wi, id := range workers {
		rs, gs := make([]*float64, len(steady)), make([]*float64, len(steady))
		for i, sm := range steady {
			rs[i], gs[i] = sm.RSS[wi], sm.Goroutines[wi]
		}
		wt := workerTrend{Worker: id, RSS: trendOf(minutes, rs), Goroutines: trendOf(minutes, gs)}
		wt.RSSFlat, wt.GorFlat = flatRSS(wt.RSS), flatGoroutines(wt.Goroutines)
		flat = flat && wt.RSSFlat && wt.GorFlat
		out = append(out, wt)
	}
	return out, flat
}

func mib(v []*float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = "-"
		if x != nil {
			out[i] = fmt.Sprintf("%.1f", *x/(1<<20))
		}
	}
	return out
}

func plain(v []*float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = "-"
		if x != nil {
			out[i] = fmt.Sprintf("%.0f", *x)
		}
	}
	return out
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

// markdown renders the report; every figure in it comes from r.
func (r *soakReport) markdown(w io.Writer, jsonName string) {
	fmt.Fprintf(w, "# Soak %s\n\n", r.Run.Started.Format("2006-01-02"))
	fmt.Fprintf(w, "Generated by `TestSoak` (chaos/soak_test.go) from the raw samples in [%s](%s); re-render with "+
		"`FRAUDSCORE_SOAK_RENDER=<json> go test -count=1 -run '^TestRenderSoakReport$' ./chaos/`.\n\n", jsonName, jsonName)
	fmt.Fprintf(w, "%s of steady traffic at %.0f transactions/s through one nats-server process (file storage) and %d\n", r.Duration, r.Rate, len(r.Workers))
	fmt.Fprintf(w, "`fraudscore worker` processes sharing the consumer, each worker's `/metrics` sampled every %.0fs.\n\n", r.EverySeconds)
	fmt.Fprintf(w, "Command: `%s`.\n\n", r.Command)
	fmt.Fprintf(w, "Run: %s; finished %s, load average %s.\n\n", r.Run, r.Finished.Format(time.RFC3339), loads(r.LoadAvgEnd))
	verdict := "flat"
	if !r.Flat {
		verdict = "**not flat**"
	}
	fmt.Fprintf(w, "## Result: %s", verdict)
	if r.Failed {
		fmt.Fprintf(w, " (the test failed: see below)")
	}
	fmt.Fprintf(w, "\n\nFlat means: after a warm-up of %.0fs (excluded), the mean of the last third of the samples is within 10%% (+8 MiB) of the first third's for resident memory, and within 10%% (+5) for goroutines. The slope is a least-squares fit over the samples after the warm-up.\n\n", r.WarmSeconds)
	fmt.Fprintf(w, "| worker | RSS first third (MiB) | RSS last third (MiB) | RSS slope (MiB/min) | flat | goroutines first third | last third | slope (/min) | flat |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, wt := range r.Trends {
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %+.2f | %s | %.0f | %.0f | %+.2f | %s |\n", wt.Worker,
			wt.RSS.First/(1<<20), wt.RSS.Last/(1<<20), wt.RSS.SlopePerMin/(1<<20), yes(wt.RSSFlat),
			wt.Goroutines.First, wt.Goroutines.Last, wt.Goroutines.SlopePerMin, yes(wt.GorFlat))
	}
	integrity := "passed"
	if r.IntegrityErr != "" {
		integrity = "**failed**: " + r.IntegrityErr
	}
	fmt.Fprintf(w, "\nExactly-once check at the end (VERDICTS and FRAUD_DLQ read back and matched by transaction id): %s.\n\n    %s\n\n", integrity, r.Counts)
	fmt.Fprintf(w, "## Samples\n\n| t (s) | confirmed publishes |")
	for _, id := range r.Workers {
		fmt.Fprintf(w, " %s RSS (MiB) | %s goroutines |", id, id)
	}
	fmt.Fprintf(w, "\n|---|---|%s\n", strings.Repeat("---|---|", len(r.Workers)))
	for _, sm := range r.Samples {
		fmt.Fprintf(w, "| %.0f | %d |", sm.AtSeconds, sm.Confirmed)
		rss, gs := mib(sm.RSS), plain(sm.Goroutines)
		for i := range rss {
			fmt.Fprintf(w, " %s | %s |", rss[i], gs[i])
		}
		fmt.Fprintln(w)
	}
}
