package bench

import (
	"fmt"
	"io"
	"strings"
)

// find returns the result with the given name.
func (res *Results) find(name string) *Result {
	for i := range res.Results {
		if res.Results[i].Name == name && res.Results[i].Err == "" {
			return &res.Results[i]
		}
	}
	return nil
}

// Ratio is fraudscore's throughput over the pass-through worker's, for the
// backlog and the concurrent-publish measurements (0 when unknown).
func (res *Results) Ratio() (backlog, concurrent float64) {
	fs, pt := res.find("fraudscore backlog"), res.find("pass-through backlog")
	if fs != nil && pt != nil && fs.Report != nil && pt.Report != nil && pt.Report.BacklogThroughput > 0 {
		backlog = fs.Report.BacklogThroughput / pt.Report.BacklogThroughput
	}
	fs, pt = res.find("fraudscore max"), res.find("pass-through max")
	if fs != nil && pt != nil && fs.Report != nil && pt.Report != nil && pt.Report.Throughput > 0 {
		concurrent = fs.Report.Throughput / pt.Report.Throughput
	}
	return backlog, concurrent
}

// WriteMarkdown writes the results as markdown tables.
func (res *Results) WriteMarkdown(w io.Writer, command string) {
	m := res.Machine
	fmt.Fprintf(w, "# fraudscore end-to-end benchmark\n\n")
	fmt.Fprintf(w, "- date: %s\n- machine: %d cores, %s, %s, %s\n- command: `%s`\n", res.Date.Format("2006-01-02 15:04 MST"), m.NProc, m.CPU, m.OS, m.GoVersion, command)
	fmt.Fprintf(w, "- setup: cmd/natsserver (nats-server module, JetStream file store in a temp dir) and `fraudscore worker` as separate processes on this machine, driven by the load tester (a third process); a fresh server per scenario\n\n")
	fmt.Fprintf(w, "| scenario | workers | env | sent | verdicts/s | backlog cleared/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | missing | stored dup | dead letters | errors | worker RSS max MiB | CPU µs/verdict server / worker / loadgen | load avg |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Results {
		if r.NatsBench {
			continue
		}
		if r.Err != "" || r.Report == nil {
			fmt.Fprintf(w, "| %s | %d | %s | error: %s |||||||||||||\n", r.Name, r.Workers, envString(r.Env), oneLine(r.Err))
			continue
		}
		p := r.Report
		backlog := ""
		if p.BacklogThroughput > 0 {
			backlog = fmt.Sprintf("%.0f", p.BacklogThroughput)
		}
		rate := "max"
		if p.TargetRate > 0 {
			rate = fmt.Sprintf("%.0f/s", p.TargetRate)
		}
		cpu := ""
		if p.Matched > 0 {
			n := float64(p.Matched) / 1e6
			cpu = fmt.Sprintf("%.1f / %.1f / %.1f", r.ServerCPU/n, r.WorkerCPU/n, r.LoadCPU/n)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %d @ %s | %.0f | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %d | %d | %d | %d | %.1f | %s | %.1f |\n",
			r.Name, r.Workers, envString(r.Env), p.Sent, rate, p.Throughput, backlog,
			p.Latency.P50, p.Latency.P90, p.Latency.P99, p.Latency.P999, p.Latency.Max,
			p.Missing, max(p.StoredDuplicates, 0), sum(p.DeadLetters), sum(p.Errors), r.RSSMaxMiB, cpu, r.LoadAvg)
	}
	for _, r := range res.Results {
		if r.NatsBench {
			if r.Err != "" {
				fmt.Fprintf(w, "\nTransport baseline (natscli v0.5.0 `nats bench js`): error: %s\n", oneLine(r.Err))
				continue
			}
			fmt.Fprintf(w, "\nTransport baseline, natscli v0.5.0 `nats bench js pub async --storage file` then `nats bench js consume` (%d-byte messages, the mean synthetic transaction; one client each): **publish %.0f msgs/s, consume %.0f msgs/s**.\n",
				r.NatsSize, r.NatsPub, r.NatsConsume)
		}
	}
	b, c := res.Ratio()
	if b > 0 || c > 0 {
		fmt.Fprintf(w, "\nfraudscore / pass-through throughput: **%.2f** clearing a backlog, **%.2f** with the publisher running.\n", b, c)
	}
	fmt.Fprintf(w, "\nColumns: `verdicts/s` is verdicts matched over the whole run (first intended send to last verdict); `backlog cleared/s` is for scenarios whose transactions were preloaded before the workers started; latency is end to end from each transaction's intended send time (open loop) to the verdict's arrival at a subscriber of `fraud.verdicts.>` (or the reply, for request-reply); `stored dup` is the growth of the VERDICTS stream beyond the unique transactions.\n")
}

func envString(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return "`" + strings.Join(env, " ") + "`"
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
