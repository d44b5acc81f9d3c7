package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fraudscore/fraudscore/scorer/versiondir"
)

// FileName is the rule set file inside a version directory.
const FileName = "rules.yaml"

// Store is a directory of rule set versions (policies/vYYYYMMDD_HHMMSS/
// rules.yaml) with a latest link to the set in use, the layout of the
// model store (package versiondir).
type Store struct {
	vd versiondir.Dir
}

// OpenStore returns the store at dir. It does not touch the disk.
func OpenStore(dir string) *Store { return &Store{vd: versiondir.Open(dir)} }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.vd.Path() }

// Versions lists the versions, oldest first.
func (s *Store) Versions() ([]string, error) {
	vs, err := s.vd.Versions()
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return vs, nil
}

// Latest returns the version the latest link points to (ErrNoLatest when
// there is no link). It reads the link only; Load checks the version.
func (s *Store) Latest() (string, error) {
	v, err := s.vd.ReadLink(versiondir.LatestLink)
	switch {
	case errors.Is(err, versiondir.ErrNoLink):
		return "", fmt.Errorf("%w: %s", ErrNoLatest, filepath.Join(s.Dir(), versiondir.LatestLink))
	case errors.Is(err, versiondir.ErrBadTarget):
		return "", fmt.Errorf("%w: %w", ErrBadVersion, err)
	case err != nil:
		return "", fmt.Errorf("rules: %w", err)
	}
	return v, nil
}

// Load reads and checks one version: the whole set compiles, type-checks,
// stays under the cost limit and passes its examples.
func (s *Store) Load(version string) (*Set, error) {
	if !versiondir.ValidName(version) {
		return nil, fmt.Errorf("%w: %q is not vYYYYMMDD_HHMMSS", ErrBadVersion, version)
	}
	dir := filepath.Join(s.Dir(), version)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrBadVersion, dir)
	}
	return LoadFile(filepath.Join(dir, FileName), version)
}

// LoadFile loads the rule set in file (at most MaxFileBytes) as version.
func LoadFile(file, version string) (*Set, error) {
	raw, err := versiondir.ReadFile(file, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return Parse(file, raw, version)
}

// LoadLatest loads the version the latest link points to.
func (s *Store) LoadLatest() (*Set, error) {
	v, err := s.Latest()
	if err != nil {
		return nil, err
	}
	return s.Load(v)
}

// Promote loads version and, if it passes every check, points latest at it
// atomically; a refused set never becomes latest.
func (s *Store) Promote(version string) error {
	unlock, err := s.vd.Lock()
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	defer unlock()
	if _, err := s.Load(version); err != nil {
		return fmt.Errorf("rules: refusing to promote %s: %w", version, err)
	}
	if err := s.vd.SetLink(versiondir.LatestLink, version); err != nil {
		return fmt.Errorf("rules: promote %s: %w", version, err)
	}
	return nil
}

// Rollback points latest at the newest version older than the current one
// that passes every check, and returns it. Versions that fail are skipped.
func (s *Store) Rollback() (string, error) {
	unlock, err := s.vd.Lock()
	if err != nil {
		return "", fmt.Errorf("rules: %w", err)
	}
	defer unlock()
	cur, err := s.Latest()
	if err != nil {
		return "", err
	}
	vs, err := s.Versions()
	if err != nil {
		return "", err
	}
	var skipped []error
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i] >= cur {
			continue
		}
		if _, err := s.Load(vs[i]); err != nil {
			skipped = append(skipped, err)
			continue
		}
		if err := s.vd.SetLink(versiondir.LatestLink, vs[i]); err != nil {
			return "", fmt.Errorf("rules: rollback to %s: %w", vs[i], err)
		}
		return vs[i], nil
	}
	return "", fmt.Errorf("rules: from %s: %w", cur, errors.Join(append([]error{ErrNoRollback}, skipped...)...))
}
