package vulndb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Module is one version of ModulePath in the module cache.
type Module struct {
	Version string    // the resolved version (a pseudo-version)
	Dir     string    // its extracted source, read-only
	Time    time.Time // its commit time, from the module proxy's .info
}

// OSV is the directory of the module's OSV reports.
func (m Module) OSV() string { return m.Dir + "/" + OSVDir }

// Download fetches ModulePath at version ("latest" or a pseudo-version)
// into the module cache with `go mod download -json` (goTool is the go
// command) and says where it is. A version already in the cache is not
// fetched again.
func Download(ctx context.Context, goTool, version string) (Module, error) {
	cmd := exec.CommandContext(ctx, goTool, "mod", "download", "-json", ModulePath+"@"+version)
	cmd.Dir = os.TempDir() // outside any module: only the proxy and the cache matter
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var out struct {
		Version, Dir, Info, Error string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.Error != "" || runErr != nil {
		msg := out.Error
		if msg == "" {
			msg = stderr.String()
		}
		// One line: the go command's message may span several.
		return Module{}, fmt.Errorf("vulndb: go mod download %s@%s: %v: %s", ModulePath, version, runErr, strings.Join(strings.Fields(msg), " "))
	}
	b, err := os.ReadFile(out.Info)
	if err != nil {
		return Module{}, fmt.Errorf("vulndb: %w", err)
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(b, &info); err != nil {
		return Module{}, fmt.Errorf("vulndb: %s: %w", out.Info, err)
	}
	return Module{Version: out.Version, Dir: out.Dir, Time: info.Time}, nil
}
