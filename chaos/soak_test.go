package chaos

import (
	"fmt"
	"math"

	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sample is one reading of a worker's /metrics.
type sample struct {
	at         time.Duration
	rss        []float64 // bytes, per worker
	goroutines []float64
	verdicts   int64 // confirmed publishes so far (progress)
}

// trend summarises one series: the means of the first and the last third
// of the samples and the least-squares slope per minute.
type trend struct {
	first, last, slopePerMin float64
}

func trendOf(allTs []time.Duration, allYs []float64) trend {
	var ts []time.Duration
	var ys []float64
	for i, y := range allYs {
		if !math.IsNaN(y) {
			ts, ys = append(ts, allTs[i]), append(ys, y)
		}
	}
	n := len(ys)
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
	for i, y := range ys {
		x := ts[i].Minutes()
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	fn := float64(n)
	slope := (fn*sxy - sx*sy) / (fn*sxx - sx*sx)
	return trend{first: mean(ys[:third]), last: mean(ys[n-third:]), slopePerMin: slope}
}

// flatRSS: the last third's mean resident memory is within 10% (+8 MiB of
// allocator slack) of the first third's.
func flatRSS(tr trend) bool { return tr.last <= tr.first*1.10+8<<20 }

// flatGoroutines: the last third's mean goroutine count is within 10% (+5)
// of the first third's.
func flatGoroutines(tr trend) bool { return tr.last <= tr.first*1.10+5 }

// TestSoak runs FRAUDSCORE_SOAK (e.g. 10m) of steady traffic at
// FRAUDSCORE_SOAK_RATE (default 2000/s) through two workers, samples their
// resident memory and goroutines every 10 s, checks that both are flat and
// that every transaction got exactly one verdict, and writes the report to
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
	s := newSystem(t, false, 2, "FRAUDSCORE_LOG_LEVEL=warn")
	ctx := withTimeout(t, dur+10*time.Minute)
	nc, err := connect(s.url, "soak-traffic")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	n := int(rate * dur.Seconds())
	tr := newTraffic(n, rate, 0)
	start := time.Now()
	pubDone := make(chan error, 1)
	go func() { pubDone <- tr.run(ctx, nc, 90*time.Second) }()

	var samples []sample
	tick := time.NewTicker(every)
	defer tick.Stop()
	take := func() {
		sm := sample{at: time.Since(start).Round(time.Second), verdicts: tr.acked.Load()}
		for _, w := range s.workers {
			// A scrape that fails (a busy machine, the 2 s client timeout)
			// is recorded as missing (NaN) and left out of the trends.
			rss, ok1 := w.metric("process_resident_memory_bytes")
			g, ok2 := w.metric("go_goroutines")
			if !ok1 || !ok2 {
				rss, g = math.NaN(), math.NaN()
			}
			sm.rss = append(sm.rss, rss)
			sm.goroutines = append(sm.goroutines, g)
		}
		samples = append(samples, sm)
		t.Logf("soak %6s  published %9d  rss %v MiB  goroutines %v", sm.at, sm.verdicts, mib(sm.rss), sm.goroutines)
	}
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
	vc, js := connectJS(t, s.url, "soak-verify")
	if err := quiesce(ctx, js, 3*time.Minute); err != nil {
		t.Errorf("%v", err)
	}
	o, err := readOutcome(ctx, vc, tr)
	if err != nil {
		t.Fatal(err)
	}
	c := summarize(tr, o)
	t.Logf("SOAK %s", c)
	if err := c.exactlyOnce(); err != nil {
		t.Errorf("exactly-once violated: %v", err)
	}

	// The first minute (at most a tenth of the run) is warm-up: the pull
	// buffers, publish window and allocator fill up. Trends start after it.
	warm := min(time.Minute, dur/10)
	steady := samples
	for len(steady) > 3 && steady[0].at < warm {
		steady = steady[1:]
	}
	ts := make([]time.Duration, len(steady))
	for i, sm := range steady {
		ts[i] = sm.at
	}
	var trends []string
	flat := true
	for wi, w := range s.workers {
		rs, gs := make([]float64, len(steady)), make([]float64, len(steady))
		for i, sm := range steady {
			rs[i], gs[i] = sm.rss[wi], sm.goroutines[wi]
		}
		rt, gt := trendOf(ts, rs), trendOf(ts, gs)
		fr, fg := flatRSS(rt), flatGoroutines(gt)
		flat = flat && fr && fg
		trends = append(trends, fmt.Sprintf("| %s | %.1f | %.1f | %+.2f | %s | %.0f | %.0f | %+.2f | %s |", w.id,
			rt.first/(1<<20), rt.last/(1<<20), rt.slopePerMin/(1<<20), yes(fr), gt.first, gt.last, gt.slopePerMin, yes(fg)))
		t.Logf("%s: rss first third %.1f MiB, last third %.1f MiB, slope %+.2f MiB/min, flat %v; goroutines %.0f -> %.0f, slope %+.2f/min, flat %v",
			w.id, rt.first/(1<<20), rt.last/(1<<20), rt.slopePerMin/(1<<20), fr, gt.first, gt.last, gt.slopePerMin, fg)
	}
	if !flat {
		t.Errorf("resident memory or goroutines not flat (see the trend lines above)")
	}
	if dir := os.Getenv("FRAUDSCORE_SOAK_REPORT"); dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(repoRoot(), dir) // relative to the repository, not to chaos/
		}
		path, err := writeSoakReport(dir, dur, rate, every, warm, samples, trends, flat, c, t.Failed())
		if err != nil {
			t.Errorf("report: %v", err)
		} else {
			t.Logf("report written to %s", path)
		}
	}
}

func mib(v []float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = fmt.Sprintf("%.1f", x/(1<<20))
	}
	return out
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func writeSoakReport(dir string, dur time.Duration, rate float64, every, warm time.Duration, samples []sample, trends []string, flat bool, c counts, failed bool) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	now := time.Now().UTC()
	commit := "unknown"
	if out, err := exec.Command("git", "-C", repoRoot(), "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Soak %s\n\n", now.Format("2006-01-02"))
	fmt.Fprintf(&b, "%s of steady traffic at %.0f transactions/s through one nats-server process (file storage) and two\n", dur, rate)
	fmt.Fprintf(&b, "`fraudscore worker` processes sharing the consumer, each worker's `/metrics` sampled every %s.\n\n", every)
	fmt.Fprintf(&b, "Command: `make soak` (`FRAUDSCORE_SOAK=%s FRAUDSCORE_SOAK_RATE=%.0f FRAUDSCORE_SOAK_REPORT=docs/soak go test -run '^TestSoak$' -v -timeout 40m ./chaos/`).\n\n", dur, rate)
	fmt.Fprintf(&b, "Machine: %d CPUs, %s/%s, %s; commit %s; run finished %s.\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), commit, now.Format(time.RFC3339))
	verdict := "flat"
	if !flat {
		verdict = "**not flat**"
	}
	fmt.Fprintf(&b, "## Result: %s", verdict)
	if failed {
		fmt.Fprintf(&b, " (the test failed: see below)")
	}
	fmt.Fprintf(&b, "\n\nFlat means: after a warm-up of %s (excluded), the mean of the last third of the samples is within 10%% (+8 MiB) of the first third's for resident memory, and within 10%% (+5) for goroutines. The slope is a least-squares fit over the samples after the warm-up.\n\n", warm)
	fmt.Fprintf(&b, "| worker | RSS first third (MiB) | RSS last third (MiB) | RSS slope (MiB/min) | flat | goroutines first third | last third | slope (/min) | flat |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range trends {
		fmt.Fprintln(&b, l)
	}
	fmt.Fprintf(&b, "\nExactly-once check at the end (VERDICTS and FRAUD_DLQ read with ordered consumers):\n\n    %s\n\n", c)
	fmt.Fprintf(&b, "## Samples\n\n| t | published | w1 RSS (MiB) | w1 goroutines | w2 RSS (MiB) | w2 goroutines |\n|---|---|---|---|---|---|\n")
	for _, sm := range samples {
		fmt.Fprintf(&b, "| %s | %d |", sm.at, sm.verdicts)
		for i := range sm.rss {
			fmt.Fprintf(&b, " %.1f | %.0f |", sm.rss[i]/(1<<20), sm.goroutines[i])
		}
		b.WriteString("\n")
	}
	path := filepath.Join(dir, now.Format("2006-01-02")+".md")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}
