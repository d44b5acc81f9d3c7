package modelstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// A model file replaced by an oversized file or a FIFO is refused without
// being read whole (a FIFO would block a plain ReadFile forever).
func TestLoadRefusesOversizedAndSpecialModelFiles(t *testing.T) {
	latest := testenv.BundledVersion(t)
	for _, tc := range []struct {
		name string
		make func(path string) error
		want error
	}{
		{"oversized", func(p string) error { return os.Truncate(p, model.MaxModelBytes+1) }, modelstore.ErrTooLarge},
		{"fifo", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return syscall.Mkfifo(p, 0o644)
		}, modelstore.ErrNotRegular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			vdir := testenv.CopyBundled(t, dir, latest)
			if err := tc.make(filepath.Join(vdir, "model.json")); err != nil {
				t.Fatal(err)
			}
			_, err := modelstore.Open(dir).Load(latest)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load = %v, want %v", err, tc.want)
			}
		})
	}
}
