// Package modelstore keeps versioned models on disk, the layout inherited
// from fraudscore's seed design:
//
//	models/
//	  v20261127_134501/  model.json  metadata.json
//	  v20261128_090000/  model.json  metadata.json
//	  latest -> v20261128_090000
//
// A version is loaded only after its sha256, metadata, feature names and
// golden rows (the parity gate) check out. Promote and Rollback move the
// latest link atomically (a temporary link renamed over it) and only to a
// version that passes those checks, so a bad model never becomes latest.
// SetChallenger does the same for the optional challenger link
// (models/challenger -> a version on trial beside latest), which never
// names the version latest names.
package modelstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/versiondir"
)

// maxMetadataBytes bounds metadata.json (golden rows and histograms are a
// few hundred KiB).
const maxMetadataBytes = 16 << 20

// ErrTooLarge is returned (wrapped) for a model or metadata file above its
// size limit; nothing beyond the limit is read.
var ErrTooLarge = versiondir.ErrTooLarge

// ErrNotRegular is returned (wrapped) when a model or metadata path is a
// directory, FIFO or device rather than a regular file.
var ErrNotRegular = versiondir.ErrNotRegular

// readLimited reads a regular file of at most limit bytes. A FIFO, a device
// or an oversized file is refused without reading it whole.
func readLimited(path string, limit int64) ([]byte, error) { return versiondir.ReadFile(path, limit) }

// LatestLink is the name of the symlink to the version in use.
const LatestLink = versiondir.LatestLink

// VersionLayout is the time layout of version names after the leading "v".
const VersionLayout = versiondir.Layout

// Errors returned (wrapped) by the store.
var (
	// ErrBadVersion: the name is not vYYYYMMDD_HHMMSS or the version does not exist.
	ErrBadVersion = errors.New("no such model version")
	// ErrNoMetadata: metadata.json is missing or unreadable.
	ErrNoMetadata = errors.New("missing or invalid model metadata")
	// ErrTampered: the model file's sha256 differs from the metadata's.
	ErrTampered = errors.New("model file sha256 mismatch")
	// ErrNoLatest: the latest link is missing.
	ErrNoLatest = errors.New("no latest model link")
	// ErrNoRollback: no earlier good version to roll back to.
	ErrNoRollback = errors.New("no earlier version to roll back to")
)

// VersionName returns the version name for time t.
func VersionName(t time.Time) string { return versiondir.Name(t) }

// ValidVersionName reports whether name has the form vYYYYMMDD_HHMMSS.
func ValidVersionName(name string) bool { return versiondir.ValidName(name) }

// Store is a directory of model versions.
type Store struct {
	dir string
	vd  versiondir.Dir
}

// Open returns the store rooted at dir. It does not touch the disk.
func Open(dir string) *Store { return &Store{dir: dir, vd: versiondir.Open(dir)} }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Versions lists the version directories, oldest first.
func (s *Store) Versions() ([]string, error) {
	vs, err := s.vd.Versions()
	if err != nil {
		return nil, fmt.Errorf("modelstore: %w", err)
	}
	return vs, nil
}

// Latest returns the version the latest link points to.
func (s *Store) Latest() (string, error) {
	return s.readLink(LatestLink, ErrNoLatest)
}

// Loaded is a model version that passed every check.
type Loaded struct {
	Version   string
	Dir       string
	Meta      Metadata
	Model     *model.Model
	Extractor *features.Extractor
	// Reasons is the version's reason table (reasons.json), covering every
	// feature of Meta.Features; nil for a version without one, which
	// serves without reason codes.
	Reasons  ReasonTable
	LoadedAt time.Time
}

// ReadMetadata reads a version's metadata without loading the model.
func (s *Store) ReadMetadata(version string) (Metadata, error) {
	var m Metadata
	if !ValidVersionName(version) {
		return m, fmt.Errorf("modelstore: %q is not vYYYYMMDD_HHMMSS: %w", version, ErrBadVersion)
	}
	dir := filepath.Join(s.dir, version)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return m, fmt.Errorf("modelstore: %s: %w", dir, ErrBadVersion)
	}
	raw, err := readLimited(filepath.Join(dir, MetadataFile), maxMetadataBytes)
	if err != nil {
		return m, fmt.Errorf("modelstore: %s: %w: %w", version, ErrNoMetadata, err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("modelstore: %s/%s: %w: %w", version, MetadataFile, ErrNoMetadata, err)
	}
	if m.Version != version {
		return m, fmt.Errorf("modelstore: %s: metadata names version %q: %w", version, m.Version, ErrNoMetadata)
	}
	if m.ModelFile == "" || filepath.Base(m.ModelFile) != m.ModelFile {
		return m, fmt.Errorf("modelstore: %s: model_file %q must be a plain file name: %w", version, m.ModelFile, ErrNoMetadata)
	}
	if len(m.GoldenRows) == 0 {
		return m, fmt.Errorf("modelstore: %s: no golden rows, the parity gate cannot run: %w", version, ErrNoMetadata)
	}
	if !(0 < m.Thresholds.Review && m.Thresholds.Review <= m.Thresholds.Decline && m.Thresholds.Decline <= 1) {
		return m, fmt.Errorf("modelstore: %s: thresholds review=%g decline=%g must satisfy 0 < review <= decline <= 1: %w",
			version, m.Thresholds.Review, m.Thresholds.Decline, ErrNoMetadata)
	}
	return m, nil
}

// Load reads and checks one version: metadata, sha256, model format,
// feature names, the parity gate on the golden rows, and the reason table
// when there is one (it must cover every feature the model uses).
func (s *Store) Load(version string) (*Loaded, error) {
	meta, err := s.ReadMetadata(version)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.dir, version)
	raw, err := readLimited(filepath.Join(dir, meta.ModelFile), model.MaxModelBytes)
	if err != nil {
		return nil, fmt.Errorf("modelstore: %s: read model: %w", version, err)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != meta.ModelSHA256 {
		return nil, fmt.Errorf("modelstore: %s: %s has sha256 %s, metadata says %s: %w", version, meta.ModelFile, got, meta.ModelSHA256, ErrTampered)
	}
	ext, err := features.NewExtractor(meta.Features)
	if err != nil {
		return nil, fmt.Errorf("modelstore: %s: %w", version, err)
	}
	m, err := model.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("modelstore: %s: %w", version, err)
	}
	if m.NumFeatures() != len(meta.Features) {
		return nil, fmt.Errorf("modelstore: %s: model reads %d features, metadata lists %d: %w", version, m.NumFeatures(), len(meta.Features), ErrNoMetadata)
	}
	if names := m.FeatureNames(); names != nil && !slices.Equal(names, meta.Features) {
		return nil, fmt.Errorf("modelstore: %s: model's feature names %v differ from metadata's %v: %w", version, names, meta.Features, ErrNoMetadata)
	}
	if err := m.CheckParity(meta.GoldenRows, model.DefaultParityTolerance); err != nil {
		return nil, fmt.Errorf("modelstore: %s: %w", version, err)
	}
	if meta.GoldenContributions != nil {
		if err := m.CheckContributions(meta.GoldenRows, meta.GoldenContributions, model.DefaultContributionTolerance); err != nil {
			return nil, fmt.Errorf("modelstore: %s: golden contributions: %w", version, err)
		}
	}
	reasons, err := readReasons(dir, meta.Features)
	if err != nil {
		return nil, fmt.Errorf("modelstore: %s: %w", version, err)
	}
	return &Loaded{Version: version, Dir: dir, Meta: meta, Model: m, Extractor: ext, Reasons: reasons, LoadedAt: time.Now()}, nil
}

// LoadLatest loads the version the latest link points to.
func (s *Store) LoadLatest() (*Loaded, error) {
	v, err := s.Latest()
	if err != nil {
		return nil, err
	}
	return s.Load(v)
}

// Promote checks version and, if it passes, points latest at it atomically.
// Promoting the challenger's version ends its trial: the challenger link is
// removed first (under the same lock), so latest and challenger never name
// the same version.
func (s *Store) Promote(version string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.Load(version); err != nil {
		return fmt.Errorf("modelstore: refusing to promote: %w", err)
	}
	if c, err := s.Challenger(); err == nil && c == version {
		if _, err := s.removeLink(ChallengerLink); err != nil {
			return fmt.Errorf("modelstore: promote %s: %w", version, err)
		}
		if err := s.setLink(LatestLink, version); err != nil {
			return fmt.Errorf("modelstore: promote %s: the challenger link is cleared but latest did not move: %w", version, err)
		}
		return nil
	}
	return s.setLink(LatestLink, version)
}

// lock takes an exclusive lock on the store, so a promote and a rollback
// that overlap (each spends seconds in the checks) cannot undo each other.
func (s *Store) lock() (func(), error) {
	unlock, err := s.vd.Lock()
	if err != nil {
		return nil, fmt.Errorf("modelstore: %w", err)
	}
	return unlock, nil
}

// Rollback points latest at the newest version older than the current one
// that passes every check and is not the challenger, and returns it.
// Versions that fail are skipped; so is the challenger's version: it is on
// trial, not a champion known to be good, and becoming latest would end its
// trial without anyone asking (promote it to do that).
func (s *Store) Rollback() (string, error) {
	unlock, err := s.lock()
	if err != nil {
		return "", err
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
	challenger, _ := s.Challenger()
	var skipped []error
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i] >= cur {
			continue
		}
		if vs[i] == challenger {
			skipped = append(skipped, fmt.Errorf("modelstore: %s: skipped, it is the challenger", vs[i]))
			continue
		}
		if _, err := s.Load(vs[i]); err != nil {
			skipped = append(skipped, err)
			continue
		}
		return vs[i], s.setLink(LatestLink, vs[i])
	}
	return "", fmt.Errorf("modelstore: from %s: %w", cur, errors.Join(append([]error{ErrNoRollback}, skipped...)...))
}

// setLink points the link name (latest or challenger) at version
// atomically and durably (versiondir.Dir.SetLink). The caller holds the lock.
func (s *Store) setLink(name, version string) error {
	if err := s.vd.SetLink(name, version); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	return nil
}

// Write creates a new version directory holding the model file and its
// metadata (ModelSHA256 and ModelFile are filled in here). It does not move
// latest: Promote does, after the checks.
func (s *Store) Write(meta Metadata, modelFile string, modelData []byte) (string, error) {
	if !ValidVersionName(meta.Version) {
		return "", fmt.Errorf("modelstore: %q is not vYYYYMMDD_HHMMSS: %w", meta.Version, ErrBadVersion)
	}
	dir := filepath.Join(s.dir, meta.Version)
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return "", fmt.Errorf("modelstore: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("modelstore: create version: %w", err)
	}
	sum := sha256.Sum256(modelData)
	meta.ModelFile = modelFile
	meta.ModelSHA256 = hex.EncodeToString(sum[:])
	if err := writeSynced(filepath.Join(dir, modelFile), modelData); err != nil {
		return "", fmt.Errorf("modelstore: write model: %w", err)
	}
	raw, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return "", fmt.Errorf("modelstore: encode metadata: %w", err)
	}
	if err := writeSynced(filepath.Join(dir, MetadataFile), append(raw, '\n')); err != nil {
		return "", fmt.Errorf("modelstore: write metadata: %w", err)
	}
	// The files and the directory entry are durable before a promote can
	// point latest at them.
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return dir, syncDir(s.dir)
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	if err := versiondir.SyncDir(dir); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	return nil
}
