package versiondir_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/scorer/versiondir"
)

func TestNameRoundTrip(t *testing.T) {
	name := versiondir.Name(time.Date(2026, 12, 2, 10, 4, 5, 0, time.FixedZone("x", 3600)))
	assert.Equal(t, "v20261202_090405", name, "UTC")
	assert.True(t, versiondir.ValidName(name))
	for _, bad := range []string{"", "latest", "v2026120_090405", "v20261202_090405x", "../v20261202_090405"} {
		assert.False(t, versiondir.ValidName(bad), bad)
	}
}

func TestLinks(t *testing.T) {
	dir := t.TempDir()
	d := versiondir.Open(dir)
	for _, v := range []string{"v20261202_000002", "v20261202_000001", "notes"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, v), 0o755))
	}
	vs, err := d.Versions()
	require.NoError(t, err)
	assert.Equal(t, []string{"v20261202_000001", "v20261202_000002"}, vs, "versions only, oldest first")

	_, err = d.ReadLink(versiondir.LatestLink)
	require.ErrorIs(t, err, versiondir.ErrNoLink)

	unlock, err := d.Lock()
	require.NoError(t, err)
	require.NoError(t, d.SetLink(versiondir.LatestLink, "v20261202_000001"))
	require.NoError(t, d.SetLink(versiondir.LatestLink, "v20261202_000002"))
	unlock()
	v, err := d.ReadLink(versiondir.LatestLink)
	require.NoError(t, err)
	assert.Equal(t, "v20261202_000002", v)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp", "temporary link left behind")
	}

	require.NoError(t, os.Symlink("notes", filepath.Join(dir, "other")))
	_, err = d.ReadLink("other")
	require.ErrorIs(t, err, versiondir.ErrBadTarget)

	removed, err := d.RemoveLink(versiondir.LatestLink)
	require.NoError(t, err)
	assert.True(t, removed)
	removed, err = d.RemoveLink(versiondir.LatestLink)
	require.NoError(t, err)
	assert.False(t, removed, "idempotent")
}

func TestReadFileLimits(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(p, []byte("12345"), 0o644))
	raw, err := versiondir.ReadFile(p, 5)
	require.NoError(t, err)
	assert.Equal(t, "12345", string(raw))
	_, err = versiondir.ReadFile(p, 4)
	require.ErrorIs(t, err, versiondir.ErrTooLarge)
	_, err = versiondir.ReadFile(dir, 4)
	require.ErrorIs(t, err, versiondir.ErrNotRegular)
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	_, err = versiondir.ReadFile(fifo, 4)
	require.ErrorIs(t, err, versiondir.ErrNotRegular, "a FIFO is refused without blocking")
	_, err = versiondir.ReadFile(filepath.Join(dir, "missing"), 4)
	require.True(t, errors.Is(err, os.ErrNotExist))
}
