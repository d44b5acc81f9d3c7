package modelstore

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/fraudscore/fraudscore/scorer/versiondir"
)

// ChallengerLink is the name of the symlink to the version on trial beside
// latest (the champion): models/challenger -> vYYYYMMDD_HHMMSS. It is
// optional; without it only the champion serves.
const ChallengerLink = "challenger"

// Errors about the challenger link, returned (wrapped) by the store.
var (
	// ErrNoChallenger: the challenger link is not set.
	ErrNoChallenger = errors.New("no challenger model link")
	// ErrChallengerIsLatest: the version asked for as challenger is the one
	// latest points at; a challenger is compared with the champion, so it
	// must be another version.
	ErrChallengerIsLatest = errors.New("the challenger must differ from latest")
)

// Challenger returns the version the challenger link points to, or an
// error wrapping ErrNoChallenger when there is no link. Like Latest it reads
// the link only: Load checks the version.
func (s *Store) Challenger() (string, error) {
	return s.readLink(ChallengerLink, ErrNoChallenger)
}

// SetChallenger checks version as Promote does (metadata, sha256, feature
// names, parity gate) and, if it passes, points the challenger link at it
// atomically, under the store lock that Promote and Rollback take. It
// refuses a version that fails the checks and the version latest points at
// (ErrChallengerIsLatest); the link is then left as it was.
func (s *Store) SetChallenger(version string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	latest, err := s.Latest()
	switch {
	case errors.Is(err, ErrNoLatest): // no champion yet: nothing to differ from
	case err != nil:
		return fmt.Errorf("modelstore: refusing to set challenger: %w", err)
	case version == latest:
		return fmt.Errorf("modelstore: refusing to set challenger: %s is latest, the champion it would be compared with: %w",
			version, ErrChallengerIsLatest)
	}
	if _, err := s.Load(version); err != nil {
		return fmt.Errorf("modelstore: refusing to set challenger: %w", err)
	}
	return s.setLink(ChallengerLink, version)
}

// ClearChallenger removes the challenger link, under the store lock. It is
// idempotent: with no link it does nothing and returns nil (Challenger
// tells whether there is one).
func (s *Store) ClearChallenger() error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	_, err = s.removeLink(ChallengerLink)
	return err
}

// readLink returns the version the link name points to; missing wraps
// notSet when the link does not exist, and a target that is not a version
// name wraps ErrBadVersion.
func (s *Store) readLink(name string, notSet error) (string, error) {
	v, err := s.vd.ReadLink(name)
	switch {
	case errors.Is(err, versiondir.ErrNoLink):
		return "", fmt.Errorf("modelstore: %s: %w", filepath.Join(s.dir, name), notSet)
	case errors.Is(err, versiondir.ErrBadTarget):
		return "", fmt.Errorf("modelstore: %w: %w", ErrBadVersion, err)
	case err != nil:
		return "", fmt.Errorf("modelstore: %w", err)
	}
	return v, nil
}

// removeLink removes the link name durably and reports whether it existed.
// The caller holds the lock.
func (s *Store) removeLink(name string) (bool, error) {
	ok, err := s.vd.RemoveLink(name)
	if err != nil {
		return false, fmt.Errorf("modelstore: %w", err)
	}
	return ok, nil
}
