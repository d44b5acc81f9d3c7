package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// ChallengerStore copies the model store at src into dst (every version and
// the latest link) and sets its challenger link, through the store's own
// checks, to the newest version other than latest. It returns dst.
func ChallengerStore(src, dst string) (string, error) {
	from := modelstore.Open(src)
	latest, err := from.Latest()
	if err != nil {
		return "", fmt.Errorf("bench: challenger store: %w", err)
	}
	versions, err := from.Versions()
	if err != nil {
		return "", fmt.Errorf("bench: challenger store: %w", err)
	}
	challenger := ""
	for _, v := range versions { // oldest first
		if err := copyDir(filepath.Join(src, v), filepath.Join(dst, v)); err != nil {
			return "", fmt.Errorf("bench: challenger store: %w", err)
		}
		if v != latest {
			challenger = v
		}
	}
	if challenger == "" {
		return "", fmt.Errorf("bench: challenger store: %s holds no version besides latest %s", src, latest)
	}
	if err := os.Symlink(latest, filepath.Join(dst, modelstore.LatestLink)); err != nil {
		return "", fmt.Errorf("bench: challenger store: %w", err)
	}
	if err := modelstore.Open(dst).SetChallenger(challenger); err != nil {
		return "", fmt.Errorf("bench: challenger store: %w", err)
	}
	return dst, nil
}

// copyDir copies the regular files of one version directory.
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
