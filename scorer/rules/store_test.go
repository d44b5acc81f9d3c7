package rules_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/scorer/rules"
)

// writeVersion copies a testdata file into dir/version/rules.yaml.
func writeVersion(t *testing.T, dir, version, testdata string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", testdata))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, version), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, version, rules.FileName), raw, 0o644))
}

func TestStorePromoteRollback(t *testing.T) {
	dir := t.TempDir()
	s := rules.OpenStore(dir)
	_, err := s.Latest()
	require.ErrorIs(t, err, rules.ErrNoLatest)

	const v1, v2, bad = "v20261201_000000", "v20261202_000000", "v20261203_000000"
	writeVersion(t, dir, v1, "good.yaml")
	writeVersion(t, dir, v2, "good.yaml")
	writeVersion(t, dir, bad, "refused/unknown_field.yaml")
	vs, err := s.Versions()
	require.NoError(t, err)
	assert.Equal(t, []string{v1, v2, bad}, vs)

	require.NoError(t, s.Promote(v2))
	err = s.Promote(bad)
	require.ErrorIs(t, err, rules.ErrUnknownName, "a refused set is not promoted")
	assert.Contains(t, err.Error(), "refusing to promote "+bad)
	latest, err := s.Latest()
	require.NoError(t, err)
	assert.Equal(t, v2, latest, "latest did not move")
	set, err := s.LoadLatest()
	require.NoError(t, err)
	assert.Equal(t, v2, set.Version())

	_, err = s.Load("v1")
	require.ErrorIs(t, err, rules.ErrBadVersion)
	_, err = s.Load("v20990101_000000")
	require.ErrorIs(t, err, rules.ErrBadVersion)

	got, err := s.Rollback()
	require.NoError(t, err)
	assert.Equal(t, v1, got)
	_, err = s.Rollback()
	require.ErrorIs(t, err, rules.ErrNoRollback)
}

// TestRollbackSkipsRefused: a refused older version is skipped, and named.
func TestRollbackSkipsRefused(t *testing.T) {
	dir := t.TempDir()
	s := rules.OpenStore(dir)
	const v1, broken, v3 = "v20261201_000000", "v20261202_000000", "v20261203_000000"
	writeVersion(t, dir, v1, "good.yaml")
	writeVersion(t, dir, broken, "refused/cost.yaml")
	writeVersion(t, dir, v3, "good.yaml")
	require.NoError(t, s.Promote(v3))
	got, err := s.Rollback()
	require.NoError(t, err)
	assert.Equal(t, v1, got)
}
