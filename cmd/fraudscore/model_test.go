package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/synthetic"
)

// tempStore copies the bundled latest version into a temporary store as
// two versions, v1 (older) and v2, with latest -> v2.
func tempStore(t *testing.T) (dir, v1, v2 string) {
	dir = t.TempDir()
	v1, v2 = "v20250101_000000", "v20250102_000000"
	testenv.CopyBundled(t, dir, v1)
	testenv.CopyBundled(t, dir, v2)
	require.NoError(t, os.Symlink(v2, filepath.Join(dir, "latest")))
	return dir, v1, v2
}

func latestOf(t *testing.T, dir string) string {
	target, err := os.Readlink(filepath.Join(dir, "latest"))
	require.NoError(t, err)
	return target
}

func TestModelListAndCheckBundled(t *testing.T) {
	v := testenv.BundledVersion(t)
	r := runBin(t, "", nil, "model", "list", "-dir", testenv.ModelDir(t))
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `(?m)^\* `+v+`  xgboost 1\.7\.4  features=17  holdout roc_auc=0\.9804 pr_auc=0\.9199`, r.stdout)

	r = runBin(t, "", nil, "model", "check", "-dir", testenv.ModelDir(t))
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `^`+v+` ok: xgboost-json, 190 trees, 17 features, 128 golden rows within 1e-06`, r.stdout)

	r = runBin(t, "", nil, "model")
	assert.Equal(t, 2, r.code, "no subcommand is a usage error")
	assert.Contains(t, r.stderr, "usage: fraudscore model")
	r = runBin(t, "", nil, "model", "frobnicate")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `unknown command "frobnicate"`)
}

func TestModelPromoteRollback(t *testing.T) {
	dir, v1, v2 := tempStore(t)
	r := runBin(t, "", nil, "model", "list", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "  "+v1)
	assert.Contains(t, r.stdout, "* "+v2)

	r = runBin(t, "", nil, "model", "rollback", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "latest -> "+v1+"\n", r.stdout)
	assert.Equal(t, v1, latestOf(t, dir))

	r = runBin(t, "", nil, "model", "rollback", "-dir", dir)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no earlier version to roll back to")
	assert.Equal(t, v1, latestOf(t, dir))

	r = runBin(t, "", nil, "model", "promote", "-dir", dir, v2)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "latest -> "+v2+"\n", r.stdout)
	assert.Equal(t, v2, latestOf(t, dir))

	r = runBin(t, "", nil, "model", "promote", "-dir", dir)
	assert.Equal(t, 2, r.code, "a missing argument is a command-line mistake")
	assert.Contains(t, r.stderr, "usage: fraudscore model promote [flags] VERSION")
	r = runBin(t, "", nil, "model", "promote", "-dir", dir, "v20990101_000000")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no such model version")
	assert.Equal(t, v2, latestOf(t, dir))

	// FRAUDSCORE_MODEL_DIR is the default -dir.
	r = runBin(t, "", []string{"FRAUDSCORE_MODEL_DIR=" + dir}, "model", "check")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, v2+" ok:")
}

func TestModelCheckTampered(t *testing.T) {
	dir, v1, v2 := tempStore(t)
	require.NoError(t, os.Remove(filepath.Join(dir, "latest")))
	require.NoError(t, os.Symlink(v1, filepath.Join(dir, "latest")))
	p := filepath.Join(dir, v2, "model.json")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x04
	require.NoError(t, os.WriteFile(p, b, 0o644))

	r := runBin(t, "", nil, "model", "check", "-dir", dir, v2)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "fraudscore model check: modelstore: "+v2)
	assert.Contains(t, r.stderr, "model file sha256 mismatch")
	assert.Empty(t, r.stdout)

	r = runBin(t, "", nil, "model", "promote", "-dir", dir, v2)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "refusing to promote")
	assert.Contains(t, r.stderr, "sha256 mismatch")
	assert.Equal(t, v1, latestOf(t, dir), "latest unchanged")

	r = runBin(t, "", nil, "model", "check", "-dir", dir)
	assert.Zero(t, r.code, "latest (v1) is still good: %s", r.stderr)
}

// sampleTSV returns feature rows of synthetic events; missing values are
// written alternately as an empty field and as "nan".
func sampleTSV(n int) (string, int) {
	g := synthetic.New(synthetic.Config{Seed: 5, FraudRate: 0.3})
	var b strings.Builder
	missing := 0
	for i := 0; i < n; i++ {
		ev, _ := g.Next()
		var f [features.Count]float64
		features.ExtractAll(&ev, &f)
		for j, v := range f {
			if j > 0 {
				b.WriteByte('\t')
			}
			if math.IsNaN(v) {
				missing++
				if missing%2 == 0 {
					b.WriteString("nan")
				}
				continue
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteByte('\n')
	}
	return b.String(), missing
}

func TestModelPredictMatchesXGBoost(t *testing.T) {
	modelFile, err := filepath.Abs(filepath.Join(testenv.ModelDir(t), "latest", "model.json"))
	require.NoError(t, err)
	tsv, missing := sampleTSV(300)
	require.Greater(t, missing, 10)
	want := testenv.XGBoostPredict(t, modelFile, tsv)

	r := runBin(t, tsv, nil, "model", "predict", modelFile)
	require.Zero(t, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, len(want))
	spread := map[bool]int{}
	for i, l := range lines {
		got, err := strconv.ParseFloat(l, 64)
		require.NoError(t, err)
		assert.Equal(t, strconv.FormatFloat(got, 'g', 17, 64), l, "line %d is not %%.17g", i+1)
		require.InDelta(t, want[i], got, 1e-6, "row %d", i+1)
		spread[got > 0.5]++
	}
	assert.Positive(t, spread[true])
	assert.Positive(t, spread[false])
}

func TestModelPredictRefusesLegacyBinary(t *testing.T) {
	if _, err := os.Stat(testenv.Python); err != nil {
		t.Skipf("no %s", testenv.Python)
	}
	src, err := filepath.Abs(filepath.Join(testenv.ModelDir(t), "latest", "model.json"))
	require.NoError(t, err)
	dst := filepath.Join(t.TempDir(), "model.bin")
	out, err := exec.Command(testenv.Python, "-c", `
import sys, xgboost as xgb
b = xgb.Booster()
b.load_model(sys.argv[1])
b.save_model(sys.argv[2])
`, src, dst).CombinedOutput()
	require.NoError(t, err, "%s", out)
	raw, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.False(t, bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")), "xgboost wrote JSON, not the legacy binary")

	tsv, _ := sampleTSV(3)
	r := runBin(t, tsv, nil, "model", "predict", dst)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "fraudscore model predict: ")
	assert.Contains(t, r.stderr, "not supported")
	assert.Contains(t, r.stderr, `save_model("model.json")`, "the error says how to fix it")
	assert.NotContains(t, r.stderr, "panic")
}

// TestModelPredictBadInput: predict and explain read rows with one reader,
// so they refuse the same input the same way.
func TestModelPredictBadInput(t *testing.T) {
	modelFile := filepath.Join(testenv.ModelDir(t), "latest", "model.json")
	row := strings.TrimSuffix(strings.Repeat("1\t", features.Count), "\t")
	for _, cmd := range []string{"predict", "explain"} {
		t.Run(cmd, func(t *testing.T) {
			r := runBin(t, row+"\n1\t2\t3\n", nil, "model", cmd, modelFile)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "line 2: 3 fields, the model reads 17 features")

			r = runBin(t, strings.Replace(row, "1", "abc", 1)+"\n", nil, "model", cmd, modelFile)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "line 1, field 1")

			r = runBin(t, row+"\n", nil, "model", cmd, filepath.Join(t.TempDir(), "missing.json"))
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "open model")

			r = runBin(t, "", nil, "model", cmd)
			assert.Equal(t, 2, r.code)
			assert.Contains(t, r.stderr, "usage: fraudscore model "+cmd+" MODEL_FILE")

			// Blank lines are skipped; CRLF is accepted.
			r = runBin(t, "\n"+row+"\r\n\n", nil, "model", cmd, modelFile)
			require.Zero(t, r.code, r.stderr)
			assert.Equal(t, 1, strings.Count(r.stdout, "\n"))
		})
	}
}

func TestModelCheckWrongObjective(t *testing.T) {
	dir, v1, v2 := tempStore(t)
	p := filepath.Join(dir, v2, "model.json")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	s := strings.Replace(string(b), `"name":"binary:logistic"`, `"name":"reg:squarederror"`, 1)
	require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
	sum := sha256.Sum256([]byte(s))
	testenv.EditMetadata(t, filepath.Join(dir, v2), func(m map[string]any) { m["model_sha256"] = hex.EncodeToString(sum[:]) })

	r := runBin(t, "", nil, "model", "check", "-dir", dir)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "only binary:logistic is supported")
	r = runBin(t, "", nil, "model", "rollback", "-dir", dir)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, v1, latestOf(t, dir))
}
