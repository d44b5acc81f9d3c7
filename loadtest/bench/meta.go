package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a run happened: absolute figures hold for this
// machine only; the ratios (Ratios) are what carries to another.
type Machine struct {
	Hostname  string `json:"hostname"`
	NProc     int    `json:"nproc"`
	CPU       string `json:"cpu"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
}

// Git is the source a run measured.
type Git struct {
	// Commit is HEAD's full hash ("" outside a git checkout).
	Commit string `json:"commit"`
	// Dirty is true when the work tree differed from HEAD (tracked files
	// changed, or untracked files not ignored).
	Dirty bool `json:"dirty"`
}

// LoadAvgs is the machine's load average over 1, 5 and 15 minutes.
type LoadAvgs [3]float64

// DescribeMachine reads the host name, CPU model, core count, kernel release
// and Go version.
func DescribeMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	m.Hostname, _ = os.Hostname()
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

// GitState returns the commit checked out in dir and whether the tree is
// dirty (zero when git or the checkout is unavailable).
func GitState(ctx context.Context, dir string) Git {
	run := func(args ...string) (string, bool) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, "git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		return string(bytes.TrimSpace(out)), err == nil
	}
	var g Git
	commit, ok := run("rev-parse", "HEAD")
	if !ok {
		return g
	}
	g.Commit = commit
	status, ok := run("status", "--porcelain")
	g.Dirty = !ok || status != ""
	return g
}

// ReadLoadAvg returns the load averages (zero if unknown).
func ReadLoadAvg() LoadAvgs {
	var l LoadAvgs
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(data)) {
		if i >= len(l) {
			break
		}
		l[i], _ = strconv.ParseFloat(f, 64)
	}
	return l
}
