package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A command-line mistake prints its own error and the usage, runs nothing
// and exits with status 2; -h is not a mistake.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"-no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"-rounds", "0"}, 2, "bench: -rounds 0: want at least 1"},
		{[]string{"-rounds", "many"}, 2, `invalid value "many" for flag -rounds`},
		{[]string{"-h"}, 0, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		assert.Equal(t, tc.code, code, "%v", tc.args)
		assert.Contains(t, stderr.String(), tc.says, "%v", tc.args)
		assert.Contains(t, stderr.String(), "-only", "%v: no usage", tc.args)
		assert.Empty(t, stdout.String(), "%v ran something", tc.args)
	}
}
