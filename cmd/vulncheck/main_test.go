package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestUsage: help on stdout with exit 0; a mistake prints help on stderr
// and exits 2; a govulncheck that cannot run is a runtime error (exit 1).
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-help"}, 0, "stdout"},
		{nil, 2, "stderr"},
		{[]string{"-db", "x", "-stdlib", "maybe"}, 2, "stderr"},
		{[]string{"-nope"}, 2, "stderr"},
		{[]string{"-db", t.TempDir(), "-govulncheck", "/nonexistent/govulncheck"}, 1, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code {
			t.Errorf("vulncheck %v: exit %d, want %d\nstderr: %s", c.args, code, c.code, stderr.String())
		}
		got := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
		if c.out != "" && !strings.Contains(got[c.out], "usage: vulncheck") {
			t.Errorf("vulncheck %v: no usage on %s", c.args, c.out)
		}
		if c.code == 1 && !strings.HasPrefix(stderr.String(), "vulncheck: ") {
			t.Errorf("vulncheck %v: runtime error %q", c.args, stderr.String())
		}
	}
}
