package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A command-line mistake prints its own error and the usage, starts no
// server and exits with status 2; -h is not a mistake.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"-no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"-port", "four"}, 2, `invalid value "four" for flag -port`},
		{[]string{"-h"}, 0, ""},
	} {
		var stderr bytes.Buffer
		code := run(tc.args, &stderr)
		assert.Equal(t, tc.code, code, "%v", tc.args)
		assert.Contains(t, stderr.String(), tc.says, "%v", tc.args)
		assert.Contains(t, stderr.String(), "-max-payload", "%v: no usage", tc.args)
		assert.NotContains(t, stderr.String(), "natsserver ready", "%v started a server", tc.args)
	}
}
