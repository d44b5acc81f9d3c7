package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestUsage: help on stdout with exit 0; a mistake prints help on stderr
// and exits 2; a module that cannot be had is a runtime error (exit 1).
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string // where "usage: vulndb" must appear
	}{
		{[]string{"-h"}, 0, "stdout"},
		{[]string{"--help"}, 0, "stdout"},
		{nil, 2, "stderr"},
		{[]string{"-out"}, 2, "stderr"},
		{[]string{"-out", t.TempDir(), "extra"}, 2, "stderr"},
		{[]string{"-bogus"}, 2, "stderr"},
		{[]string{"-out", t.TempDir(), "-version", "v0.0.0-not-a-version"}, 1, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code {
			t.Errorf("vulndb %v: exit %d, want %d\nstderr: %s", c.args, code, c.code, stderr.String())
		}
		got := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
		if c.out != "" && !strings.Contains(got[c.out], "usage: vulndb") {
			t.Errorf("vulndb %v: no usage on %s", c.args, c.out)
		}
		if c.code == 1 && (strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 || !strings.HasPrefix(stderr.String(), "vulndb: ")) {
			t.Errorf("vulndb %v: runtime error is not one line: %q", c.args, stderr.String())
		}
	}
}
