package worker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	assert.Equal(t, 20*time.Second, def.DrainTimeout)
	for _, v := range worker.Variables() {
		assert.True(t, strings.HasPrefix(v.Name, "FRAUDSCORE_"), v.Name)
		assert.NotEmpty(t, v.Description, v.Name)
	}
}

// env is a worker environment, plus vars.
func env(_ *testing.T, vars ...string) []string {
	return append([]string{"PATH=/usr/bin"}, vars...)
}

func TestLoadConfigParsesEveryKind(t *testing.T) {
	cfg, unknown, err := worker.LoadConfig(env(t, "FRAUDSCORE_ACK_WAIT=7s", "FRAUDSCORE_BACKOFF=7s, 20s",
		"FRAUDSCORE_MAX_DELIVER=0x5", "FRAUDSCORE_VERDICT_MAX_BYTES=1073741824", "FRAUDSCORE_AUDIT_REQUESTS=false",
		"FRAUDSCORE_WORKER_ID=w-1", "FRAUDSCORE_CONCURRENCY=0"))
	require.NoError(t, err)
	assert.Empty(t, unknown)
	assert.Equal(t, 7*time.Second, cfg.AckWait)
	assert.Equal(t, []time.Duration{7 * time.Second, 20 * time.Second}, cfg.BackOff)
	assert.Equal(t, 5, cfg.MaxDeliver)
	assert.Equal(t, int64(1<<30), cfg.VerdictMaxBytes)
	assert.False(t, cfg.AuditRequests)
	assert.Equal(t, "w-1", cfg.WorkerID)
	assert.Zero(t, cfg.Concurrency)
	assert.Equal(t, worker.DefaultConfig().NATSURL, cfg.NATSURL, "unset variables keep their defaults")
}

// Only FRAUDSCORE_ names configure the worker: envconfig also read the bare
// tag (LOG_LEVEL, STREAM, HTTP_ADDR), so any such variable in a pod changed
// the worker.
func TestLoadConfigIgnoresNamesWithoutThePrefix(t *testing.T) {
	cfg, _, err := worker.LoadConfig(env(t, "ACK_WAIT=loud", "STREAM=other", "NATS_URL=nats://elsewhere:1"))
	require.NoError(t, err)
	def := worker.DefaultConfig()
	assert.Equal(t, def.AckWait, cfg.AckWait)
	assert.Equal(t, def.Stream, cfg.Stream)
	assert.Equal(t, def.NATSURL, cfg.NATSURL)
}

// Three unreadable values and two broken rules: all five are reported, and
// no rule is reported about a value that could not be read.
func TestLoadConfigReportsEveryProblem(t *testing.T) {
	_, _, err := worker.LoadConfig(env(t, "FRAUDSCORE_ACK_WAIT=soon", "FRAUDSCORE_CONCURRENCY=many",
		"FRAUDSCORE_AUDIT_REQUESTS=yes please", "FRAUDSCORE_BATCH_SIZE=0", "FRAUDSCORE_STREAM=a.b"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, worker.ErrConfig))
	var ce *worker.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, []string{
		`FRAUDSCORE_ACK_WAIT="soon" is not a duration (such as 5s or 1m30s)`,
		`FRAUDSCORE_CONCURRENCY="many" is not an integer`,
		`FRAUDSCORE_AUDIT_REQUESTS="yes please" is not true or false`,
		`FRAUDSCORE_STREAM="a.b" must be a non-empty name without spaces, dots or wildcards`,
		`FRAUDSCORE_BATCH_SIZE=0 must be 1..10000`,
	}, ce.Problems)
	assert.Contains(t, err.Error(), "invalid configuration:\n  FRAUDSCORE_ACK_WAIT")
}

func TestUnknownVariablesNameTheClosestSetting(t *testing.T) {
	environ := []string{
		"FRAUDSCORE_STREEM=TRANSACTIONS",    // one letter wrong
		"FRAUDSCORE_CONCURENCY=4",           // one letter missing
		"FRAUDSCORE_NATS_PASSWORD=secret",   // the secret itself: only a file variable exists
		"FRAUDSCORE_XYZZY=1",                // nothing close
		"FRAUDSCORE_CHAOS=1",                // the chaos suite's switch
		"FRAUDSCORE_SOAK_RATE=100",          // the soak test's
		"FRAUDSCORE_VULNDB=/tmp/vulndb",     // the supply-chain tests', exported by make
		"FRAUDSCORE_STREAM=TRANSACTIONS",    // a setting
		"FRAUDSCORE=1", "MODEL_DIRR=models", // not FRAUDSCORE_*
	}
	_, got, err := worker.LoadConfig(environ)
	require.NoError(t, err)
	assert.Equal(t, []worker.UnknownVariable{
		{Name: "FRAUDSCORE_CONCURENCY", Suggestion: "FRAUDSCORE_CONCURRENCY"},
		{Name: "FRAUDSCORE_NATS_PASSWORD", Suggestion: "FRAUDSCORE_NATS_PASSWORD_FILE"},
		{Name: "FRAUDSCORE_STREEM", Suggestion: "FRAUDSCORE_STREAM"},
		{Name: "FRAUDSCORE_XYZZY"},
	}, got)
	assert.Equal(t, "unknown variable FRAUDSCORE_STREEM ignored; did you mean FRAUDSCORE_STREAM?", got[2].String())
	assert.NotContains(t, got[3].String(), "did you mean")

	// They are returned with an error too.
	_, unknown, err := worker.LoadConfig([]string{"FRAUDSCORE_STREEM=x", "FRAUDSCORE_BATCH_SIZE=0"})
	require.Error(t, err)
	assert.Len(t, unknown, 1)
}
