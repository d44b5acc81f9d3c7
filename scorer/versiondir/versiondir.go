// Package versiondir keeps versioned directories behind atomic links, the
// layout fraudscore's model store and rule store share:
//
//	dir/
//	  v20261127_134501/  ...
//	  v20261128_090000/  ...
//	  latest -> v20261128_090000
//
// Version names are vYYYYMMDD_HHMMSS (UTC), so that their lexical order is
// their age. A link is moved by creating a temporary link and renaming it
// over the old one, atomic on POSIX file systems, and the directory is
// fsynced so that the move survives a crash. Lock serialises the writers
// (promote, rollback) of one directory. What a version holds and how it is
// checked is the caller's business (scorer/modelstore, scorer/rules).
package versiondir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"time"
)

// Layout is the time layout of version names after the leading "v".
const Layout = "20060102_150405"

// LatestLink is the name of the link to the version in use.
const LatestLink = "latest"

var versionRe = regexp.MustCompile(`^v\d{8}_\d{6}$`)

// Errors returned (wrapped) by this package; their messages start with
// "versiondir:".
var (
	// ErrNoLink: the link does not exist.
	ErrNoLink = errors.New("versiondir: no such link")
	// ErrBadTarget: the link points to something that is not a version name.
	ErrBadTarget = errors.New("versiondir: link target is not a version")
	// ErrTooLarge: a file is above its size limit; nothing beyond the limit is read.
	ErrTooLarge = errors.New("versiondir: file too large")
	// ErrNotRegular: a path is a directory, FIFO or device rather than a regular file.
	ErrNotRegular = errors.New("versiondir: not a regular file")
)

// Name returns the version name for time t.
func Name(t time.Time) string { return "v" + t.UTC().Format(Layout) }

// ValidName reports whether name has the form vYYYYMMDD_HHMMSS.
func ValidName(name string) bool { return versionRe.MatchString(name) }

// Dir is a directory of versions. The zero value is not usable; use Open.
type Dir struct {
	path string
}

// Open returns the directory at path. It does not touch the disk.
func Open(path string) Dir { return Dir{path: path} }

// Path returns the directory's path.
func (d Dir) Path() string { return d.path }

// Versions lists the version directories, oldest first.
func (d Dir) Versions() ([]string, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("versiondir: list %s: %w", d.path, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && ValidName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// ReadLink returns the version the link name points to. A missing link
// wraps ErrNoLink; a target that is not a version name wraps ErrBadTarget.
// It reads the link only: whether the version is good is the caller's check.
func (d Dir) ReadLink(name string) (string, error) {
	path := filepath.Join(d.path, name)
	target, err := os.Readlink(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", path, ErrNoLink)
		}
		return "", fmt.Errorf("read %s link: %w", name, err)
	}
	v := filepath.Base(target)
	if !ValidName(v) {
		return "", fmt.Errorf("%s points to %q: %w", name, target, ErrBadTarget)
	}
	return v, nil
}

// SetLink points the link name at version: a temporary link is created and
// renamed over it, so a reader sees the old target or the new, never none;
// the directory is then fsynced. The caller holds the lock.
func (d Dir) SetLink(name, version string) error {
	tmp := filepath.Join(d.path, fmt.Sprintf(".%s.tmp-%d", name, time.Now().UnixNano()))
	if err := os.Symlink(version, tmp); err != nil {
		return fmt.Errorf("create link: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(d.path, name)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("move %s link: %w", name, err)
	}
	// Make the rename durable: a crash right after a promote must not undo it.
	return SyncDir(d.path)
}

// RemoveLink removes the link name durably and reports whether it existed.
// The caller holds the lock.
func (d Dir) RemoveLink(name string) (bool, error) {
	err := os.Remove(filepath.Join(d.path, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove %s link: %w", name, err)
	}
	return true, SyncDir(d.path)
}

// Lock takes an exclusive lock on the directory (a .lock file and flock),
// so that a promote and a rollback that overlap cannot undo each other. It
// returns the function that releases it.
func (d Dir) Lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(d.path, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// SyncDir fsyncs the directory at path, making the entries created, renamed
// or removed in it durable.
func SyncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// ReadFile reads a regular file of at most limit bytes. A FIFO, a device or
// a directory (ErrNotRegular) and an oversized file (ErrTooLarge) are
// refused without reading them whole.
func ReadFile(path string, limit int64) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise block until a
	// writer appears; it changes nothing for regular files.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: ErrNotRegular}
	}
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("more than %d bytes: %w", limit, ErrTooLarge)}
	}
	return raw, nil
}
