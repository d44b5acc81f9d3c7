package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

var (
	modelOnce sync.Once
	model     *modelstore.Loaded
	modelErr  error
)

// BundledModel loads the bundled latest version through the store's checks
// (sha256, features, parity gate), once per test process.
func BundledModel(t testing.TB) *modelstore.Loaded {
	t.Helper()
	modelOnce.Do(func() {
		root, err := Root()
		if err != nil {
			modelErr = err
			return
		}
		model, modelErr = modelstore.Open(root + "/models").LoadLatest()
	})
	if modelErr != nil {
		t.Fatalf("bundled model: %v", modelErr)
	}
	return model
}

// CopyBundled copies the bundled version's files into dir/version (dir is
// created if need be), sets the version field of the copy's metadata to
// version, and returns the new version directory. It leaves dir's latest
// link alone.
func CopyBundled(t testing.TB, dir, version string) string {
	t.Helper()
	src := filepath.Join(ModelDir(t), BundledVersion(t))
	dst := filepath.Join(dir, version)
	entries, err := os.ReadDir(src)
	check(t, err)
	check(t, os.MkdirAll(dst, 0o755))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		check(t, err)
		check(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
	EditMetadata(t, dst, func(m map[string]any) { m["version"] = version })
	return dst
}

// EditMetadata rewrites the metadata file of the version directory vdir
// through a generic map, so that fields the Metadata type does not know
// survive the edit.
func EditMetadata(t testing.TB, vdir string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(vdir, modelstore.MetadataFile)
	raw, err := os.ReadFile(p)
	check(t, err)
	var m map[string]any
	check(t, json.Unmarshal(raw, &m))
	edit(m)
	raw, err = json.MarshalIndent(m, "", "  ")
	check(t, err)
	check(t, os.WriteFile(p, raw, 0o644))
}
