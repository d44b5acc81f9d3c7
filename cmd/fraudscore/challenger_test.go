package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// challengerOf is the challenger link's target in dir, "" without one.
func challengerOf(t *testing.T, dir string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(dir, "challenger"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	return target
}

func TestModelChallengerSetShowClear(t *testing.T) {
	dir, v1, v2 := tempStore(t) // latest -> v2
	ch := func(args ...string) result {
		return runBin(t, "", nil, append([]string{"model", "challenger"}, append(args, "-dir", dir)...)...)
	}

	r := ch("show")
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "no challenger\n", r.stdout)

	r = ch("set", v1)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "challenger -> "+v1+"\n", r.stdout)
	assert.Equal(t, v1, challengerOf(t, dir))

	r = runBin(t, "", nil, "model", "list", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `(?m)^c `+v1+`  xgboost`, r.stdout)
	assert.Regexp(t, `(?m)^\* `+v2+`  xgboost`, r.stdout)

	r = ch("show")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `^challenger -> `+v1+` ok: xgboost-json, \d+ trees, 17 features, \d+ golden rows within 1e-06(, their contributions within 1e-05)?\n$`, r.stdout)

	r = ch("set", v2)
	assert.Equal(t, 1, r.code, "the version latest names is refused")
	assert.Contains(t, r.stderr, "fraudscore model challenger set: modelstore: refusing to set challenger: "+v2+" is latest")
	assert.Empty(t, r.stdout)
	assert.Equal(t, v1, challengerOf(t, dir), "a refusal leaves the challenger")

	r = ch("set", "v20990101_000000")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no such model version")
	assert.Equal(t, v1, challengerOf(t, dir))

	// Rollback from v2 would land on v1, the challenger: it never does.
	r = runBin(t, "", nil, "model", "rollback", "-dir", dir)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, v1+": skipped, it is the challenger")
	assert.Equal(t, v2, latestOf(t, dir))

	r = runBin(t, "", nil, "model", "promote", "-dir", dir, v1)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "latest -> "+v1+"\nchallenger link cleared: "+v1+" is latest now\n", r.stdout)
	assert.Equal(t, v1, latestOf(t, dir))
	assert.Equal(t, "", challengerOf(t, dir))

	r = ch("clear")
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "no challenger to clear\n", r.stdout)

	r = ch("set", v2)
	require.Zero(t, r.code, r.stderr)
	r = runBin(t, "", nil, "model", "promote", "-dir", dir, v1)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "latest -> "+v1+"\n", r.stdout, "promoting another version leaves the trial")
	assert.Equal(t, v2, challengerOf(t, dir))
	r = ch("clear")
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "challenger "+v2+" cleared\n", r.stdout)
	assert.Equal(t, "", challengerOf(t, dir))
	assert.Equal(t, v1, latestOf(t, dir))

	// FRAUDSCORE_MODEL_DIR is the default -dir, as for the other model commands.
	r = runBin(t, "", []string{"FRAUDSCORE_MODEL_DIR=" + dir}, "model", "challenger", "set", v2)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, v2, challengerOf(t, dir))
}

func TestModelRollbackSaysItSkippedTheChallenger(t *testing.T) {
	dir, v1, v2 := tempStore(t)
	v3 := "v20250103_000000"
	testenv.CopyBundled(t, dir, v3)
	require.Zero(t, runBin(t, "", nil, "model", "promote", "-dir", dir, v3).code)
	require.Zero(t, runBin(t, "", nil, "model", "challenger", "set", "-dir", dir, v2).code)

	r := runBin(t, "", nil, "model", "rollback", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "latest -> "+v1+"\nskipped the challenger "+v2+
		": rollback never picks the version on trial (promote it to make it latest)\n", r.stdout)
	assert.Equal(t, v1, latestOf(t, dir))
	assert.Equal(t, v2, challengerOf(t, dir))
}

func TestModelChallengerRefusesTampered(t *testing.T) {
	dir, v1, _ := tempStore(t)
	p := filepath.Join(dir, v1, "model.json")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x04
	require.NoError(t, os.WriteFile(p, b, 0o644))

	r := runBin(t, "", nil, "model", "challenger", "set", "-dir", dir, v1)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "refusing to set challenger")
	assert.Contains(t, r.stderr, "model file sha256 mismatch")
	assert.Equal(t, "", challengerOf(t, dir))

	// A link made by hand to the tampered version: show says workers refuse it.
	require.NoError(t, os.Symlink(v1, filepath.Join(dir, "challenger")))
	r = runBin(t, "", nil, "model", "challenger", "show", "-dir", dir)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "challenger -> "+v1+", which workers refuse")
	assert.Contains(t, r.stderr, "model file sha256 mismatch")

	r = runBin(t, "", nil, "model", "challenger", "clear", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "challenger "+v1+" cleared\n", r.stdout)
}

func TestModelChallengerHelp(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		usage string   // first line of stdout
		has   []string // in stdout
	}{
		{[]string{"model", "challenger", "-h"}, "usage: fraudscore model challenger <action> [flags] [arguments]", []string{"set", "clear", "show"}},
		{[]string{"model", "help", "challenger"}, "usage: fraudscore model challenger <action> [flags] [arguments]", nil},
		{[]string{"model", "challenger", "set", "-h"}, "usage: fraudscore model challenger set [flags] VERSION", []string{"-dir", "parity gate", "latest"}},
		{[]string{"model", "challenger", "clear", "--help"}, "usage: fraudscore model challenger clear [flags]", []string{"-dir"}},
		{[]string{"model", "challenger", "show", "-help"}, "usage: fraudscore model challenger show [flags]", []string{"-dir"}},
		{[]string{"model", "--help"}, "usage: fraudscore model <command> [flags] [arguments]", []string{"challenger set|clear|show"}},
		{[]string{"model", "list", "-h"}, "usage: fraudscore model list [flags]", []string{"challenger with c"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runBin(t, "", nil, tc.args...)
			assert.Zero(t, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			first, _, _ := strings.Cut(r.stdout, "\n")
			assert.Equal(t, tc.usage, first)
			for _, s := range tc.has {
				assert.Contains(t, r.stdout, s)
			}
		})
	}
}

func TestModelChallengerMistakesExit2(t *testing.T) {
	dir, _, _ := tempStore(t)
	for _, tc := range []struct {
		args       []string
		msg, usage string // in stderr
	}{
		{[]string{"model", "challenger"}, "", "usage: fraudscore model challenger <action>"},
		{[]string{"model", "challenger", "frob"}, `unknown action "frob"`, "usage: fraudscore model challenger <action>"},
		{[]string{"model", "challenger", "set", "-dir", dir}, "wants VERSION, got 0 arguments", "usage: fraudscore model challenger set [flags] VERSION"},
		{[]string{"model", "challenger", "set", "-dir", dir, "v1", "v2"}, "wants VERSION, got 2 arguments", "usage: fraudscore model challenger set"},
		{[]string{"model", "challenger", "clear", "-dir", dir, "v1"}, "takes no arguments, got 1", "usage: fraudscore model challenger clear"},
		{[]string{"model", "challenger", "show", "-bogus"}, "flag provided but not defined: -bogus", "usage: fraudscore model challenger show"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runBin(t, "", nil, tc.args...)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tc.msg)
			assert.Contains(t, r.stderr, tc.usage)
			assert.Equal(t, "", challengerOf(t, dir), "a mistake changes nothing")
		})
	}
}
