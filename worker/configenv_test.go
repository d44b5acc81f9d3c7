package worker_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/worker"
)

// The defaults LoadConfig starts from are the ones the tags declare, parsed
// as envconfig parses them (the deploy manifests and older tests read them
// through envconfig), and they pass Validate.
func TestDefaultConfigMatchesEnvconfigAndIsValid(t *testing.T) {
	var viaEnvconfig worker.Config
	require.NoError(t, envconfig.Process("FRAUDSCORE_TEST_NO_SUCH_PREFIX", &viaEnvconfig))
	def := worker.DefaultConfig()
	assert.Equal(t, viaEnvconfig, def)
	require.NoError(t, def.Validate())
	assert.Equal(t, 30*time.Second, def.ProgressInterval)
	for _, v := range worker.Variables() {
		assert.True(t, strings.HasPrefix(v.Name, "FRAUDSCORE_"), v.Name)
		assert.NotEmpty(t, v.Description, v.Name)
	}
}

// env is a worker environment whose model directory exists, plus vars.
func env(t *testing.T, vars ...string) []string {
	return append([]string{"PATH=/usr/bin", "FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t)}, vars...)
}

func TestLoadConfigParsesEveryKind(t *testing.T) {
	cfg, unknown, err := worker.LoadConfig(env(t, "FRAUDSCORE_ACK_WAIT=7s", "FRAUDSCORE_BACKOFF=7s, 20s",
		"FRAUDSCORE_MAX_DELIVER=0x5", "FRAUDSCORE_VERDICT_MAX_BYTES=1073741824", "FRAUDSCORE_EMBEDDED=true",
		"FRAUDSCORE_REVIEW_THRESHOLD=0.25", "FRAUDSCORE_DECLINE_THRESHOLD=0.5", "FRAUDSCORE_WORKER_ID=w-1",
		"FRAUDSCORE_PROGRESS_INTERVAL=0"))
	require.NoError(t, err)
	assert.Empty(t, unknown)
	assert.Equal(t, 7*time.Second, cfg.AckWait)
	assert.Equal(t, []time.Duration{7 * time.Second, 20 * time.Second}, cfg.BackOff)
	assert.Equal(t, 5, cfg.MaxDeliver)
	assert.Equal(t, int64(1<<30), cfg.VerdictMaxBytes)
	assert.True(t, cfg.Embedded)
	assert.Equal(t, 0.25, cfg.ReviewThreshold)
	assert.Equal(t, "w-1", cfg.WorkerID)
	assert.Zero(t, cfg.ProgressInterval)
	assert.Equal(t, worker.DefaultConfig().NATSURL, cfg.NATSURL, "unset variables keep their defaults")
}

// Only FRAUDSCORE_ names configure the worker: envconfig also read the bare
// tag (LOG_LEVEL, STREAM, HTTP_ADDR), so any such variable in a pod changed
// the worker.
func TestLoadConfigIgnoresNamesWithoutThePrefix(t *testing.T) {
	cfg, _, err := worker.LoadConfig(env(t, "LOG_LEVEL=loud", "STREAM=other", "NATS_URL=nats://elsewhere:1"))
	require.NoError(t, err)
	def := worker.DefaultConfig()
	assert.Equal(t, def.LogLevel, cfg.LogLevel)
	assert.Equal(t, def.Stream, cfg.Stream)
	assert.Equal(t, def.NATSURL, cfg.NATSURL)
}

// Three unreadable values and two broken rules: all five are reported, and
// no rule is reported about a value that could not be read.
func TestLoadConfigReportsEveryProblem(t *testing.T) {
	_, _, err := worker.LoadConfig(env(t, "FRAUDSCORE_ACK_WAIT=soon", "FRAUDSCORE_CONCURRENCY=many",
		"FRAUDSCORE_EMBEDDED=yes please", "FRAUDSCORE_BATCH_SIZE=0", "FRAUDSCORE_LOG_LEVEL=loud"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, worker.ErrConfig))
	var ce *worker.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, []string{
		`FRAUDSCORE_ACK_WAIT="soon" is not a duration (such as 5s or 1m30s)`,
		`FRAUDSCORE_CONCURRENCY="many" is not an integer`,
		`FRAUDSCORE_EMBEDDED="yes please" is not true or false`,
		`FRAUDSCORE_BATCH_SIZE=0 must be 1..10000`,
		`FRAUDSCORE_LOG_LEVEL="loud" must be debug, info, warn or error`,
	}, ce.Problems)
	assert.Contains(t, err.Error(), "invalid configuration:\n  FRAUDSCORE_ACK_WAIT")
}

func TestLoadConfigMissingModelDirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-models")
	_, _, err := worker.LoadConfig([]string{"FRAUDSCORE_MODEL_DIR=" + missing})
	require.ErrorIs(t, err, worker.ErrConfig)
	assert.Contains(t, err.Error(), "FRAUDSCORE_MODEL_DIR: model directory "+missing+" does not exist")

	file := filepath.Join(t.TempDir(), "models")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, _, err = worker.LoadConfig([]string{"FRAUDSCORE_MODEL_DIR=" + file})
	assert.ErrorContains(t, err, file+" is not a directory")

	// A relative path says where it was looked for.
	_, _, err = worker.LoadConfig([]string{"FRAUDSCORE_MODEL_DIR=no-such-models"})
	wd, _ := os.Getwd()
	assert.ErrorContains(t, err, "model directory no-such-models (in "+wd+") does not exist")

	// Pass-through mode loads no model and needs no directory.
	_, _, err = worker.LoadConfig([]string{"FRAUDSCORE_MODEL_DIR=" + missing, "FRAUDSCORE_PASS_THROUGH=true"})
	assert.NoError(t, err)
}

func TestUnknownVariablesNameTheClosestSetting(t *testing.T) {
	environ := []string{
		"FRAUDSCORE_MODEL_DIRR=models",      // one letter too many
		"FRAUDSCORE_CONCURENCY=4",           // one letter missing
		"FRAUDSCORE_NATS_PASSWORD=secret",   // the secret itself: only a file variable exists
		"FRAUDSCORE_XYZZY=1",                // nothing close
		"FRAUDSCORE_CHAOS=1",                // the chaos suite's switch
		"FRAUDSCORE_SOAK_RATE=100",          // the soak test's
		"FRAUDSCORE_STREAM=TRANSACTIONS",    // a setting
		"FRAUDSCORE=1", "MODEL_DIRR=models", // not FRAUDSCORE_*
	}
	got := worker.UnknownVariables(environ)
	assert.Equal(t, []worker.UnknownVariable{
		{Name: "FRAUDSCORE_CONCURENCY", Suggestion: "FRAUDSCORE_CONCURRENCY"},
		{Name: "FRAUDSCORE_MODEL_DIRR", Suggestion: "FRAUDSCORE_MODEL_DIR"},
		{Name: "FRAUDSCORE_NATS_PASSWORD", Suggestion: "FRAUDSCORE_NATS_PASSWORD_FILE"},
		{Name: "FRAUDSCORE_XYZZY"},
	}, got)
	assert.Equal(t, "unknown variable FRAUDSCORE_MODEL_DIRR ignored; did you mean FRAUDSCORE_MODEL_DIR?", got[1].String())
	assert.NotContains(t, got[3].String(), "did you mean")

	// LoadConfig returns them with a valid configuration and with an error.
	_, unknown, err := worker.LoadConfig(env(t, "FRAUDSCORE_MODEL_DIRR=x"))
	require.NoError(t, err)
	assert.Len(t, unknown, 1)
	_, unknown, err = worker.LoadConfig([]string{"FRAUDSCORE_MODEL_DIRR=x", "FRAUDSCORE_MODEL_DIR=/no/such/dir"})
	require.Error(t, err)
	assert.Len(t, unknown, 1)
}
