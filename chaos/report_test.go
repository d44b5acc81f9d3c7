package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/loadtest/bench"
)

// runInfo says what code ran where and when, taken at the start of a run
// (a commit made while it runs is not the one that ran).
type runInfo struct {
	Commit  string        `json:"commit"`
	Dirty   bool          `json:"dirty"`
	Host    string        `json:"hostname"`
	Machine bench.Machine `json:"machine"`
	Started time.Time     `json:"started"`
	// LoadAvg is the 1, 5 and 15 minute load average at the start.
	LoadAvg [3]float64 `json:"loadavg_start"`
}

// newRunInfo reads the commit (and whether the work tree differs from it),
// the machine and the load now.
func newRunInfo(t testing.TB) runInfo {
	t.Helper()
	root := testenv.RepoRoot(t)
	ri := runInfo{Commit: "unknown", Machine: bench.DescribeMachine(), Started: time.Now().UTC(), LoadAvg: loadAvgs()}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		ri.Commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err != nil || len(out) > 0 {
		ri.Dirty = true
	}
	ri.Host, _ = os.Hostname()
	return ri
}

func (ri runInfo) String() string {
	dirty := ""
	if ri.Dirty {
		dirty = " (dirty: uncommitted changes)"
	}
	return fmt.Sprintf("commit %s%s; host %s, %d CPUs (%s), %s, %s; started %s, load average %.2f %.2f %.2f",
		ri.Commit, dirty, ri.Host, ri.Machine.NProc, ri.Machine.CPU, ri.Machine.OS, ri.Machine.GoVersion,
		ri.Started.Format(time.RFC3339), ri.LoadAvg[0], ri.LoadAvg[1], ri.LoadAvg[2])
}

// loadAvgs reads the 1, 5 and 15 minute load averages (zeros if unknown).
func loadAvgs() [3]float64 {
	var l [3]float64
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(data)) {
		if i == len(l) {
			break
		}
		l[i], _ = strconv.ParseFloat(f, 64)
	}
	return l
}

// scenarioResult is one scenario's record in the results JSON.
type scenarioResult struct {
	Name         string     `json:"name"`
	Passed       bool       `json:"passed"`
	Evidence     evidence   `json:"fault"`
	Counts       counts     `json:"counts"`
	IntegrityErr string     `json:"integrity_error,omitempty"`
	Started      time.Time  `json:"started"`
	Seconds      float64    `json:"seconds"`
	LoadAvgStart [3]float64 `json:"loadavg_start"`
	LoadAvgEnd   [3]float64 `json:"loadavg_end"`
}

// chaosReport collects the scenarios of one TestChaos run and, when
// FRAUDSCORE_CHAOS_REPORT names a directory, writes them there as
// chaos-<date>-<ci|full>.json at the end of the test.
type chaosReport struct {
	Run       runInfo          `json:"run"`
	Volume    string           `json:"volume"`
	Finished  time.Time        `json:"finished"`
	Scenarios []scenarioResult `json:"scenarios"`

	mu sync.Mutex
}

func newChaosReport(t *testing.T) *chaosReport {
	t.Helper()
	rep := &chaosReport{Run: newRunInfo(t), Volume: "ci"}
	if full() {
		rep.Volume = "full"
	}
	t.Logf("CHAOS run: %s", rep.Run)
	dir := os.Getenv("FRAUDSCORE_CHAOS_REPORT")
	if dir == "" {
		return rep
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(testenv.RepoRoot(t), dir) // relative to the repository, not to chaos/
	}
	t.Cleanup(func() {
		path := filepath.Join(dir, "chaos-"+rep.Run.Started.Format("2006-01-02")+"-"+rep.Volume+".json")
		if err := rep.write(path); err != nil {
			t.Errorf("chaos report: %v", err)
			return
		}
		t.Logf("chaos results written to %s", path)
	})
	return rep
}

// add records a finished scenario.
func (r *chaosReport) add(s scenarioResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Scenarios = append(r.Scenarios, s)
}

func (r *chaosReport) write(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Finished = time.Now().UTC()
	return writeJSON(path, r)
}

// writeJSON writes v as indented JSON, creating the directory.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	return nil
}
