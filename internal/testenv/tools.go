package testenv

import (
	"bufio"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// SupplyChainMk is the make file that pins the supply-chain tools and the
// vulnerability database version (one place for each version).
const SupplyChainMk = "mk/supplychain.mk"

// MakeVar returns the default of `NAME ?= value` in SupplyChainMk.
func MakeVar(t testing.TB, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(RepoRoot(t), SupplyChainMk))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "?="); ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s: no %s ?= line", SupplyChainMk, name)
	return ""
}

// PinnedTool returns a Go tool binary: the one named by the environment
// variable env when it exists (make exports it after installing the tool,
// see SupplyChainMk), otherwise pkg installed at the version that
// SupplyChainMk's versionVar pins, into a temporary directory.
func PinnedTool(t testing.TB, env, pkg, versionVar string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "install", pkg+"@"+MakeVar(t, versionVar))
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s: %v\n%s", pkg, err, out)
	}
	return filepath.Join(dir, path.Base(pkg))
}
