// Package testenv holds the helpers that tests across fraudscore share, so
// that each lives in one place: the repository root (Root, RepoRoot), the
// bundled model store (ModelDir, BundledVersion, BundledModel, and
// CopyBundled and EditMetadata for a test's own store), binaries built once
// per test process (Build, Binary, Cleanup), programs under test (Environ,
// StartProcess, Process), free loopback ports (FreePort, FreeAddr), a
// goroutine-safe Buffer for output read while it is written (with
// Matching and MsgIs to pick its log records), and a
// throw-away PKI. It is for tests only and knows nothing of NATS (see
// natstest).
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// ErrNoRoot is returned when no go.mod is found above this package.
var ErrNoRoot = errors.New("testenv: repository root not found")

// Root returns the module root: the directory holding go.mod, found from this
// source file's location, so it works from any test's working directory.
func Root() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", ErrNoRoot
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoRoot
		}
		dir = parent
	}
}

// RepoRoot is Root for tests: it fails t when the root cannot be found.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// ModelDir returns the absolute path of the repository's model store
// (models/, whose latest link names the bundled version).
func ModelDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), "models")
}

// BundledVersion returns the version that models/latest points at.
func BundledVersion(t testing.TB) string {
	t.Helper()
	v, err := os.Readlink(filepath.Join(ModelDir(t), "latest"))
	if err != nil {
		t.Fatalf("bundled model: %v", err)
	}
	return filepath.Base(v)
}

var (
	buildMu  sync.Mutex
	buildDir string
	builds   = map[string]string{}
)

// Build compiles the main package pkg (a path relative to the module root,
// such as "./cmd/fraudscore") without cgo and without the race detector (it
// is the system under test, not the test), once per test process, and
// returns the binary's path. Binaries live in one temporary directory; call
// Cleanup from TestMain to remove it.
func Build(pkg string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := builds[pkg]; ok {
		return bin, nil
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	if buildDir == "" {
		if buildDir, err = os.MkdirTemp("", "fraudscore-testbin-"); err != nil {
			return "", fmt.Errorf("testenv: %w", err)
		}
	}
	bin := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testenv: build %s: %w\n%s", pkg, err, out)
	}
	builds[pkg] = bin
	return bin, nil
}

// Binary is Build for tests: it fails t when the build fails.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	bin, err := Build(pkg)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Cleanup removes the binaries built by Build. Call it from TestMain after
// m.Run; tests without a TestMain leave them in the system's temp directory.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
		buildDir = ""
		builds = map[string]string{}
	}
}
