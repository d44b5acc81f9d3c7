package modelstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fraudscore/fraudscore/contracts"
)

// ReasonsFile is the name of a version's reason table, beside its metadata.
const ReasonsFile = "reasons.json"

// maxReasonsBytes bounds reasons.json (a line of text per feature).
const maxReasonsBytes = 1 << 20

// maxReasonTextLen bounds a reason's text: one line for an analyst.
const maxReasonTextLen = 200

// ErrReasons is returned (wrapped) when a version's reason table is
// unreadable or does not cover every feature the model uses.
var ErrReasons = errors.New("invalid reason table")

// Reason is the code and one-line text given when a feature pushes a score
// up.
type Reason struct {
	// Code is stable across versions, upper snake case
	// (contracts.ValidReasonCode): IP_CARD_COUNTRY_MISMATCH.
	Code string `json:"code"`
	// Text says what the code means in one line: "IP country differs from
	// the card's issuing country".
	Text string `json:"text"`
}

// ReasonTable maps a feature name to its reason. It ships with the model
// version (reasons.json) because the features, and so the codes that can
// be given, belong to the model.
type ReasonTable map[string]Reason

// Codes returns the table's distinct codes, sorted.
func (t ReasonTable) Codes() []string {
	var out []string
	for _, r := range t {
		out = append(out, r.Code)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Check reports every problem of t for a model reading features: a feature
// without a reason, an invalid code, an empty or multi-line text.
func (t ReasonTable) Check(features []string) error {
	var errs []string
	for _, f := range features {
		r, ok := t[f]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("feature %q has no reason", f))
		case !contracts.ValidReasonCode(r.Code):
			errs = append(errs, fmt.Sprintf("feature %q: code %q must be 1 to %d of A-Z, 0-9 and '_', starting with a letter", f, r.Code, contracts.MaxReasonCodeLen))
		case strings.TrimSpace(r.Text) == "" || strings.ContainsAny(r.Text, "\r\n") || len(r.Text) > maxReasonTextLen:
			errs = append(errs, fmt.Sprintf("feature %q: text must be one non-empty line of at most %d bytes", f, maxReasonTextLen))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrReasons, strings.Join(errs, "; "))
	}
	return nil
}

// readReasons reads the reason table in dir, checked against features. A
// version without the file has none (nil, nil): it serves without reasons.
func readReasons(dir string, features []string) (ReasonTable, error) {
	raw, err := readLimited(filepath.Join(dir, ReasonsFile), maxReasonsBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReasons, err)
	}
	var t ReasonTable
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", ReasonsFile, ErrReasons, err)
	}
	if err := t.Check(features); err != nil {
		return nil, fmt.Errorf("%s: %w", ReasonsFile, err)
	}
	return t, nil
}

// WriteReasons writes t as version's reason table after checking it against
// the version's features. The model file and metadata are not touched, so
// their sha256 and golden rows still check.
func (s *Store) WriteReasons(version string, t ReasonTable) error {
	meta, err := s.ReadMetadata(version)
	if err != nil {
		return err
	}
	if err := t.Check(meta.Features); err != nil {
		return fmt.Errorf("modelstore: %s: %w", version, err)
	}
	raw, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("modelstore: encode reasons: %w", err)
	}
	dir := filepath.Join(s.dir, version)
	if err := writeSynced(filepath.Join(dir, ReasonsFile), append(raw, '\n')); err != nil {
		return fmt.Errorf("modelstore: write reasons: %w", err)
	}
	return syncDir(dir)
}
