package validate

import (
	"os/exec"
	"runtime"
	"strings"
)

// runtimeGOROOT is the GOROOT of the go command on PATH (runtime.GOROOT is
// deprecated), falling back to the runtime's own when go is not on PATH.
func runtimeGOROOT() string {
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if root := strings.TrimSpace(string(out)); root != "" {
			return root
		}
	}
	return runtime.GOROOT() //lint:ignore SA1019 fallback when go is not on PATH
}
