package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/worker"
)

func TestEveryCommandHasItsOwnHelp(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		usage     string   // first line of stdout
		has, lack []string // in stdout
	}{
		{[]string{"worker", "--help"}, "usage: fraudscore worker", []string{"FRAUDSCORE_PROGRESS_INTERVAL", "30s"}, []string{"-dir"}},
		{[]string{"worker", "-h"}, "usage: fraudscore worker", nil, nil},
		{[]string{"help", "worker"}, "usage: fraudscore worker", nil, nil},
		{[]string{"model", "list", "-h"}, "usage: fraudscore model list [flags]", []string{"-dir"}, []string{"-rows", "-seed"}},
		{[]string{"model", "check", "--help"}, "usage: fraudscore model check [flags] [VERSION]", []string{"-dir", "parity gate"}, []string{"-rows"}},
		{[]string{"model", "promote", "-h"}, "usage: fraudscore model promote [flags] VERSION", []string{"-dir"}, []string{"-rows"}},
		{[]string{"model", "rollback", "-help"}, "usage: fraudscore model rollback [flags]", []string{"-dir"}, []string{"-rows"}},
		{[]string{"model", "predict", "-h"}, "usage: fraudscore model predict MODEL_FILE", []string{"TSV"}, []string{"-dir", "Flags:"}},
		{[]string{"model", "train", "-h"}, "usage: fraudscore model train [flags]", []string{"-dir", "-rows", "-seed", "-max-depth", "-python", "-upstream", "-cards"}, nil},
		{[]string{"model", "help", "train"}, "usage: fraudscore model train [flags]", nil, nil},
		{[]string{"model", "compare", "-h"}, "usage: fraudscore model compare [flags] (-since D | -last N)", []string{"-since", "-last", "-json", "-url"}, []string{"-dir"}},
		{[]string{"help", "model", "check"}, "usage: fraudscore model check [flags] [VERSION]", nil, nil},
		{[]string{"model", "--help"}, "usage: fraudscore model <command> [flags] [arguments]", []string{"list", "predict", "train", "challenger", "compare"}, nil},
		{[]string{"version", "-h"}, "usage: fraudscore version", nil, nil},
		{[]string{"--help"}, "fraudscore: real-time fraud scoring of payment transactions on NATS JetStream.", []string{"FRAUDSCORE_NATS_URL"}, nil},
		{[]string{"help", "help"}, "fraudscore: real-time fraud scoring of payment transactions on NATS JetStream.", nil, nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			// A configuration that would be refused: help must not read it.
			r := runBin(t, "", []string{"FRAUDSCORE_MAX_DELIVER=1"}, tc.args...)
			assert.Zero(t, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			first, _, _ := strings.Cut(r.stdout, "\n")
			assert.Equal(t, tc.usage, first)
			for _, s := range tc.has {
				assert.Contains(t, r.stdout, s)
			}
			for _, s := range tc.lack {
				assert.NotContains(t, r.stdout, s)
			}
		})
	}
}

// The worker's help lists every variable of every owner (the binary, the
// worker, the model lifecycle) with its default.
func TestWorkerHelpListsEveryVariableWithItsDefault(t *testing.T) {
	r := runBin(t, "", nil, "worker", "--help")
	require.Zero(t, r.code)
	n := 0
	for _, s := range defaultConfig().sections() {
		assert.Contains(t, r.stdout, "\n "+s.Name+":\n")
		for _, v := range s.Variables() {
			assert.Regexp(t, `(?m)^  `+v.Name+` +`+strings.ReplaceAll(v.Default, ".", `\.`), r.stdout)
			n++
		}
	}
	assert.Greater(t, n, len(worker.Variables()))
	for _, v := range []string{"FRAUDSCORE_CHALLENGER_MODE", "FRAUDSCORE_CHALLENGER_SHARE", "FRAUDSCORE_DRIFT_WINDOW",
		"FRAUDSCORE_MODEL_RELOAD_INTERVAL", "FRAUDSCORE_LOG_LEVEL"} {
		assert.Contains(t, r.stdout, v)
	}
}

// Bad challenger settings are configuration errors: exit 2, every problem
// named, before anything connects; a variable of any owner is known.
func TestBadChallengerSettingsExit2(t *testing.T) {
	noChallenger := testenv.ChampionChallengerStore(t, false)
	r := runBin(t, "", []string{"FRAUDSCORE_MODEL_DIR=" + noChallenger, "FRAUDSCORE_CHALLENGER_MODE=split",
		"FRAUDSCORE_NATS_URL=nats://127.0.0.1:1", "FRAUDSCORE_DRIFT_WINDOW=500", "FRAUDSCORE_CHALENGER_SHARE=0.1"}, "worker")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "FRAUDSCORE_CHALLENGER_MODE=split needs a challenger")
	assert.Contains(t, r.stderr, "did you mean FRAUDSCORE_CHALLENGER_SHARE?")
	assert.NotContains(t, r.stderr, "FRAUDSCORE_DRIFT_WINDOW ignored")
	assert.NotContains(t, r.stderr, "connect")

	r = runBin(t, "", []string{"FRAUDSCORE_MODEL_DIR=" + testenv.ChampionChallengerStore(t, true),
		"FRAUDSCORE_CHALLENGER_MODE=canary", "FRAUDSCORE_CHALLENGER_SHARE=1.5", "FRAUDSCORE_LOG_LEVEL=loud"}, "worker")
	assert.Equal(t, 2, r.code)
	for _, s := range []string{`FRAUDSCORE_CHALLENGER_MODE="canary" must be shadow or split`,
		"FRAUDSCORE_CHALLENGER_SHARE=1.5 must be between 0 and 1", `FRAUDSCORE_LOG_LEVEL="loud"`} {
		assert.Contains(t, r.stderr, s)
	}
}

func TestCommandLineMistakesExit2WithTheirUsage(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		msg, usage string // in stderr
	}{
		{[]string{"bogus"}, `unknown command "bogus"`, "Usage:\n  fraudscore [worker]"},
		{[]string{"--bogus"}, `unknown command "--bogus"`, "Usage:\n  fraudscore [worker]"},
		{[]string{"worker", "-x"}, "flag provided but not defined: -x", "usage: fraudscore worker"},
		{[]string{"worker", "extra"}, "fraudscore worker: takes no arguments, got 1", "usage: fraudscore worker"},
		{[]string{"model"}, "", "usage: fraudscore model <command>"},
		{[]string{"model", "frobnicate"}, `unknown command "frobnicate"`, "usage: fraudscore model <command>"},
		{[]string{"model", "list", "-rows", "5"}, "flag provided but not defined: -rows", "usage: fraudscore model list [flags]"},
		{[]string{"model", "list", "v1"}, "fraudscore model list: takes no arguments, got 1", "usage: fraudscore model list [flags]"},
		{[]string{"model", "check", "v1", "v2"}, "wants [VERSION], got 2 arguments", "usage: fraudscore model check"},
		{[]string{"model", "promote"}, "wants VERSION, got 0 arguments", "usage: fraudscore model promote [flags] VERSION"},
		{[]string{"model", "train", "-rows", "many"}, `invalid value "many" for flag -rows`, "usage: fraudscore model train"},
		{[]string{"model", "train", "-cards", "some"}, `invalid value "some" for flag -cards`, "usage: fraudscore model train"},
		{[]string{"version", "now"}, "takes no arguments", "usage: fraudscore version"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runBin(t, "", nil, tc.args...)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tc.msg)
			assert.Contains(t, r.stderr, tc.usage)
		})
	}
}

// A missing model directory is a configuration error (exit 2, before
// anything connects), named as such, and a misspelt variable that would have
// set it is pointed out.
func TestMissingModelDirectoryExits2(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "models")
	r := runBin(t, "", []string{"FRAUDSCORE_MODEL_DIR=" + missing, "FRAUDSCORE_MODEL_DIRR=" + testenv.ModelDir(t),
		"FRAUDSCORE_NATS_URL=nats://127.0.0.1:1"}, "worker")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "FRAUDSCORE_MODEL_DIR: model directory "+missing+" does not exist")
	assert.Contains(t, r.stderr, "warning: unknown variable FRAUDSCORE_MODEL_DIRR ignored; did you mean FRAUDSCORE_MODEL_DIR?")
	assert.NotContains(t, r.stderr, "no latest model link")
	assert.NotContains(t, r.stderr, "connect")
}
