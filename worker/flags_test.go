package worker_test

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/fraudscore/fraudscore/worker"
)

// TestConnectionFlags: each setting defaults to its FRAUDSCORE_NATS_*
// variable, a flag overrides it, and the usage names the variable.
func TestConnectionFlags(t *testing.T) {
	t.Setenv("FRAUDSCORE_NATS_CA_FILE", "/env/ca.pem")
	t.Setenv("FRAUDSCORE_NATS_USER", "env-user")
	c := worker.DefaultConfig()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	worker.ConnectionFlags(fs, &c)
	if err := fs.Parse([]string{"-user", "flag-user", "-creds", "/f/user.creds"}); err != nil {
		t.Fatal(err)
	}
	if c.CAFile != "/env/ca.pem" || c.User != "flag-user" || c.CredsFile != "/f/user.creds" || c.KeyFile != "" {
		t.Errorf("ca %q user %q creds %q key %q", c.CAFile, c.User, c.CredsFile, c.KeyFile)
	}
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(f.Usage, "$FRAUDSCORE_NATS_") {
			t.Errorf("-%s usage %q names no variable", f.Name, f.Usage)
		}
	})
	if n != 8 {
		t.Errorf("%d flags, want 8", n)
	}
}
