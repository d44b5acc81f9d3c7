package modelstore_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// replaceModel writes data as the version's model file (named file) and
// updates model_file and model_sha256 so that only the content is wrong.
func replaceModel(t testing.TB, vdir, file string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(vdir, file), data, 0o644))
	sum := sha256.Sum256(data)
	testenv.EditMetadata(t, vdir, func(m map[string]any) {
		m["model_file"] = file
		m["model_sha256"] = hex.EncodeToString(sum[:])
	})
}

func setLatest(t testing.TB, dir, v string) {
	t.Helper()
	_ = os.Remove(filepath.Join(dir, modelstore.LatestLink))
	require.NoError(t, os.Symlink(v, filepath.Join(dir, modelstore.LatestLink)))
}

// linkTarget is the raw text of the latest link.
func linkTarget(t testing.TB, dir string) string {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(dir, modelstore.LatestLink))
	require.NoError(t, err)
	require.True(t, fi.Mode()&os.ModeSymlink != 0, "latest must be a symlink")
	target, err := os.Readlink(filepath.Join(dir, modelstore.LatestLink))
	require.NoError(t, err)
	return target
}

const (
	v1 = "v20250101_000000"
	v2 = "v20250102_000000"
	v3 = "v20250103_000000"
)

// newStore returns a temporary store with good copies of the bundled model
// as v1 and v2, latest -> v1.
func newStore(t *testing.T) (*modelstore.Store, string) {
	dir := t.TempDir()
	testenv.CopyBundled(t, dir, v1)
	testenv.CopyBundled(t, dir, v2)
	setLatest(t, dir, v1)
	return modelstore.Open(dir), dir
}

func TestBundledStoreLoads(t *testing.T) {
	s := modelstore.Open(testenv.ModelDir(t))
	vs, err := s.Versions()
	require.NoError(t, err)
	require.NotEmpty(t, vs)
	l, err := s.LoadLatest()
	require.NoError(t, err)
	assert.Equal(t, vs[len(vs)-1], l.Version, "the bundled latest is the newest version")
	assert.Equal(t, features.Names(), l.Meta.Features)
	assert.Equal(t, features.Count, l.Extractor.Len())
	assert.Equal(t, features.Count, l.Model.NumFeatures())
	assert.Equal(t, model.FormatXGBoostJSON, l.Model.Format())
	assert.Equal(t, "binary:logistic", l.Meta.Objective)
	assert.Less(t, l.Meta.Thresholds.Review, l.Meta.Thresholds.Decline)
	assert.NotEmpty(t, l.Meta.GoldenRows)
}

func TestVersionsAndLatest(t *testing.T) {
	s, dir := newStore(t)
	// Noise that is not a version.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "scratch"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "v20990101_000000"), nil, 0o644)) // a file, not a dir
	testenv.CopyBundled(t, dir, "v20240101_000000")
	vs, err := s.Versions()
	require.NoError(t, err)
	assert.Equal(t, []string{"v20240101_000000", v1, v2}, vs, "oldest first, only version directories")
	v, err := s.Latest()
	require.NoError(t, err)
	assert.Equal(t, v1, v)
	assert.Equal(t, dir, s.Dir())

	require.NoError(t, os.Remove(filepath.Join(dir, modelstore.LatestLink)))
	_, err = s.Latest()
	assert.ErrorIs(t, err, modelstore.ErrNoLatest)
	_, err = s.LoadLatest()
	assert.ErrorIs(t, err, modelstore.ErrNoLatest)

	require.NoError(t, os.Symlink("not-a-version", filepath.Join(dir, modelstore.LatestLink)))
	_, err = s.Latest()
	assert.ErrorIs(t, err, modelstore.ErrBadVersion)

	_, err = modelstore.Open(filepath.Join(dir, "nope")).Versions()
	assert.Error(t, err)
}

func TestVersionName(t *testing.T) {
	tm := time.Date(2026, 11, 27, 14, 54, 46, 0, time.FixedZone("CET", 3600))
	assert.Equal(t, "v20261127_135446", modelstore.VersionName(tm), "version names are UTC")
	assert.True(t, modelstore.ValidVersionName("v20261127_135446"))
	for _, bad := range []string{"latest", "v2026112_135446", "20261127_135446", "v20261127_135446x", "../v20261127_135446"} {
		assert.False(t, modelstore.ValidVersionName(bad), bad)
	}
}

func TestLoad(t *testing.T) {
	s, dir := newStore(t)
	l, err := s.Load(v2)
	require.NoError(t, err)
	assert.Equal(t, v2, l.Version)
	assert.Equal(t, filepath.Join(dir, v2), l.Dir)
	assert.False(t, l.LoadedAt.IsZero())
	for _, row := range l.Meta.GoldenRows {
		p, err := l.Model.Predict(row.Features)
		require.NoError(t, err)
		assert.InDelta(t, row.Probability, p, model.DefaultParityTolerance)
	}

	_, err = s.Load("v20990101_000000")
	assert.ErrorIs(t, err, modelstore.ErrBadVersion)
	_, err = s.Load("../models")
	assert.ErrorIs(t, err, modelstore.ErrBadVersion)
}

func TestPromoteAndRollback(t *testing.T) {
	s, dir := newStore(t)
	require.NoError(t, s.Promote(v2))
	assert.Equal(t, v2, linkTarget(t, dir), "latest is a relative link to the version name")
	v, err := s.Latest()
	require.NoError(t, err)
	assert.Equal(t, v2, v)
	assertNoTempLinks(t, dir)

	got, err := s.Rollback()
	require.NoError(t, err)
	assert.Equal(t, v1, got)
	assert.Equal(t, v1, linkTarget(t, dir))

	_, err = s.Rollback()
	assert.ErrorIs(t, err, modelstore.ErrNoRollback, "v1 is the oldest")
	assert.Equal(t, v1, linkTarget(t, dir))

	// Promoting the current version is a no-op that still succeeds.
	require.NoError(t, s.Promote(v1))
	assert.Equal(t, v1, linkTarget(t, dir))
	assertNoTempLinks(t, dir)

	// The store survives being moved: the link is relative.
	moved := filepath.Join(t.TempDir(), "moved")
	require.NoError(t, os.Rename(dir, moved))
	l, err := modelstore.Open(moved).LoadLatest()
	require.NoError(t, err)
	assert.Equal(t, v1, l.Version)
}

func assertNoTempLinks(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.Contains(e.Name(), ".tmp"), "temporary link %s left behind", e.Name())
	}
}

// TestPromoteIsAtomic checks that readers never see latest missing or
// half-written while it moves back and forth.
func TestPromoteIsAtomic(t *testing.T) {
	s, dir := newStore(t)
	stop := watchLink(t, dir, modelstore.LatestLink, v1, v2)
	for i := range 20 {
		v := v1
		if i%2 == 0 {
			v = v2
		}
		require.NoError(t, s.Promote(v))
	}
	stop()
}

// watchLink reads the link name in two goroutines until stop is called,
// and stop then fails t if a read found it missing, pointing elsewhere than
// want, or at a version directory that does not exist.
func watchLink(t *testing.T, dir, name string, want ...string) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	var reads, bad atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				target, err := os.Readlink(filepath.Join(dir, name))
				reads.Add(1)
				if err != nil || !slices.Contains(want, target) {
					bad.Add(1)
					continue
				}
				if st, err := os.Stat(filepath.Join(dir, target)); err != nil || !st.IsDir() {
					bad.Add(1)
				}
			}
		}()
	}
	return func() {
		t.Helper()
		done.Store(true)
		wg.Wait()
		assert.Zero(t, bad.Load(), "readers saw %s missing or wrong in %d of %d reads", name, bad.Load(), reads.Load())
		assert.Positive(t, reads.Load())
		assertNoTempLinks(t, dir)
	}
}

// refusal describes a broken copy of the bundled version.
type refusal struct {
	name  string
	apply func(t *testing.T, vdir string)
	want  error
}

func refusals(t *testing.T) []refusal {
	legacy, err := os.ReadFile("../model/testdata/xgb_small.model")
	require.NoError(t, err)
	return []refusal{
		{"tampered model byte", func(t *testing.T, vdir string) {
			p := filepath.Join(vdir, "model.json")
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			i := strings.Index(string(b), "split_conditions") + 40
			b[i] ^= 0x01
			require.NoError(t, os.WriteFile(p, b, 0o644))
		}, modelstore.ErrTampered},
		{"missing metadata.json", func(t *testing.T, vdir string) {
			require.NoError(t, os.Remove(filepath.Join(vdir, modelstore.MetadataFile)))
		}, modelstore.ErrNoMetadata},
		{"metadata names another version", func(t *testing.T, vdir string) {
			testenv.EditMetadata(t, vdir, func(m map[string]any) { m["version"] = v3 })
		}, modelstore.ErrNoMetadata},
		{"thresholds out of order", func(t *testing.T, vdir string) {
			testenv.EditMetadata(t, vdir, func(m map[string]any) { m["thresholds"] = map[string]any{"review": 0.9, "decline": 0.1} })
		}, modelstore.ErrNoMetadata},
		{"no golden rows", func(t *testing.T, vdir string) {
			testenv.EditMetadata(t, vdir, func(m map[string]any) { delete(m, "golden_rows") })
		}, modelstore.ErrNoMetadata},
		{"model_file escapes the version", func(t *testing.T, vdir string) {
			testenv.EditMetadata(t, vdir, func(m map[string]any) { m["model_file"] = "../" + v1 + "/model.json" })
		}, modelstore.ErrNoMetadata},
		{"unknown feature in metadata", func(t *testing.T, vdir string) {
			testenv.EditMetadata(t, vdir, func(m map[string]any) {
				fs := m["features"].([]any)
				fs[3] = "shoe_size"
			})
		}, features.ErrUnknownFeature},
		{"features reordered", func(t *testing.T, vdir string) {
			testenv.EditMetadata(t, vdir, func(m map[string]any) {
				fs := m["features"].([]any)
				fs[0], fs[1] = fs[1], fs[0]
			})
		}, modelstore.ErrNoMetadata},
		{"golden row altered", func(t *testing.T, vdir string) {
			testenv.EditMetadata(t, vdir, func(m map[string]any) {
				rows := m["golden_rows"].([]any)
				r := rows[len(rows)/2].(map[string]any)
				r["probability"] = r["probability"].(float64) + 1e-4
			})
		}, model.ErrParity},
		{"wrong objective, matching sha256", func(t *testing.T, vdir string) {
			b, err := os.ReadFile(filepath.Join(vdir, "model.json"))
			require.NoError(t, err)
			s := strings.Replace(string(b), `"name":"binary:logistic"`, `"name":"reg:squarederror"`, 1)
			require.NotEqual(t, string(b), s, "objective not found in the bundled model")
			replaceModel(t, vdir, "model.json", []byte(s))
		}, model.ErrUnsupported},
		{"legacy binary model, matching sha256", func(t *testing.T, vdir string) {
			replaceModel(t, vdir, "model.bin", legacy)
		}, model.ErrUnsupported},
	}
}

func TestRefusals(t *testing.T) {
	for _, r := range refusals(t) {
		t.Run(r.name, func(t *testing.T) {
			s, dir := newStore(t)
			r.apply(t, filepath.Join(dir, v2))
			_, err := s.Load(v2)
			require.Error(t, err)
			assert.ErrorIs(t, err, r.want)
			assert.Contains(t, err.Error(), v2, "the error names the version")

			err = s.Promote(v2)
			require.Error(t, err)
			assert.ErrorIs(t, err, r.want)
			assert.Contains(t, err.Error(), "refusing to promote")
			assert.Equal(t, v1, linkTarget(t, dir), "latest must not move to a refused version")
			assertNoTempLinks(t, dir)

			// Rollback from a good v3 skips the broken v2 and lands on v1.
			testenv.CopyBundled(t, dir, v3)
			require.NoError(t, s.Promote(v3))
			got, err := s.Rollback()
			require.NoError(t, err)
			assert.Equal(t, v1, got)
			assert.Equal(t, v1, linkTarget(t, dir))
		})
	}
}

func TestRollbackNoGoodVersion(t *testing.T) {
	s, dir := newStore(t)
	require.NoError(t, os.Remove(filepath.Join(dir, v1, modelstore.MetadataFile)))
	require.NoError(t, s.Promote(v2))
	_, err := s.Rollback()
	require.Error(t, err)
	assert.ErrorIs(t, err, modelstore.ErrNoRollback)
	assert.ErrorIs(t, err, modelstore.ErrNoMetadata, "the skipped version's reason is kept")
	assert.Equal(t, v2, linkTarget(t, dir))
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	src := modelstore.Open(testenv.ModelDir(t))
	meta, err := src.ReadMetadata(testenv.BundledVersion(t))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(testenv.ModelDir(t), testenv.BundledVersion(t), meta.ModelFile))
	require.NoError(t, err)

	s := modelstore.Open(dir)
	meta.Version = v3
	meta.ModelSHA256 = ""
	vdir, err := s.Write(meta, "model.json", data)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, v3), vdir)
	l, err := s.Load(v3)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	assert.Equal(t, hex.EncodeToString(sum[:]), l.Meta.ModelSHA256)
	_, err = s.Latest()
	assert.ErrorIs(t, err, modelstore.ErrNoLatest, "Write does not move latest")

	_, err = s.Write(meta, "model.json", data)
	assert.Error(t, err, "a version is never overwritten")
	meta.Version = "latest"
	_, err = s.Write(meta, "model.json", data)
	assert.True(t, errors.Is(err, modelstore.ErrBadVersion))
}

// TestParityMargin reports how close the Go model comes to XGBoost's golden
// probabilities of the bundled version (the gate allows 1e-6). Run with -v.
func TestParityMargin(t *testing.T) {
	l := testenv.BundledModel(t)
	var worst float64
	for _, r := range l.Meta.GoldenRows {
		p, err := l.Model.Predict(r.Features)
		require.NoError(t, err)
		worst = max(worst, math.Abs(p-r.Probability))
	}
	t.Logf("%s: %d golden rows, max |Go - XGBoost| = %.3g (tolerance %g)", l.Version, len(l.Meta.GoldenRows), worst, model.DefaultParityTolerance)
	assert.LessOrEqual(t, worst, model.DefaultParityTolerance)
}

// BenchmarkLoad is the cost of loading and checking the bundled version
// (read, sha256, parse, convert, parity gate): what a worker pays when
// latest moves.
func BenchmarkLoad(b *testing.B) {
	s := modelstore.Open(testenv.ModelDir(b))
	v := testenv.BundledVersion(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(v); err != nil {
			b.Fatal(err)
		}
	}
}
