package modelstore_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// FuzzReadMetadata feeds arbitrary bytes as metadata.json of a version
// directory that also holds the bundled model file: metadata is input too (a
// model store is a volume that someone else writes). Reading it never
// panics; a refusal always wraps ErrNoMetadata; what is accepted satisfies
// every documented rule; and loading the version never panics and refuses
// with one of the store's, the model's or the feature extractor's errors.
func FuzzReadMetadata(f *testing.F) {
	version := testenv.BundledVersion(f)
	good, err := os.ReadFile(filepath.Join(testenv.ModelDir(f), version, modelstore.MetadataFile))
	if err != nil {
		f.Fatal(err)
	}
	modelData, err := os.ReadFile(filepath.Join(testenv.ModelDir(f), version, "model.json"))
	if err != nil {
		f.Fatal(err)
	}
	s := string(good)
	for _, seed := range []string{
		s,
		s[:len(s)/2],
		strings.Replace(s, `"`+version+`"`, `"v20000101_000000"`, 1),
		strings.Replace(s, `"model_file": "model.json"`, `"model_file": "../model.json"`, 1),
		strings.Replace(s, `"model_file": "model.json"`, `"model_file": "."`, 1),
		strings.Replace(s, `"model_file": "model.json"`, `"model_file": "metadata.json"`, 1),
		strings.Replace(s, `"golden_rows": [`, `"golden_rows_x": [`, 1),
		strings.Replace(s, `"features": [`, `"features": ["no_such_feature",`, 1),
		`{}`, `null`, `[]`, `""`, `{"version":"` + version + `"}`,
		`{"version":"` + version + `","model_file":"model.json","golden_rows":[{"features":[1],"probability":0.5}],"thresholds":{"review":0.9,"decline":0.1}}`,
		`{"version":"` + version + `","model_file":"model.json","golden_rows":[{}],"thresholds":{"review":0.5,"decline":0.9},"created_at":"not a time"}`,
		`{"version":"` + version + `","model_file":"model.json","golden_rows":[{}],"thresholds":{"review":1e400,"decline":0.9}}`,
		"\xff\xfe{\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		vdir := filepath.Join(dir, version)
		if err := os.Mkdir(vdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vdir, "model.json"), modelData, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vdir, modelstore.MetadataFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		st := modelstore.Open(dir)
		meta, err := st.ReadMetadata(version)
		if err != nil {
			if !errors.Is(err, modelstore.ErrNoMetadata) {
				t.Fatalf("ReadMetadata error does not wrap ErrNoMetadata: %v", err)
			}
		} else {
			if meta.Version != version {
				t.Fatalf("accepted metadata naming version %q", meta.Version)
			}
			if meta.ModelFile == "" || filepath.Base(meta.ModelFile) != meta.ModelFile {
				t.Fatalf("accepted model_file %q", meta.ModelFile)
			}
			if len(meta.GoldenRows) == 0 {
				t.Fatal("accepted metadata without golden rows")
			}
			if !(0 < meta.Thresholds.Review && meta.Thresholds.Review <= meta.Thresholds.Decline && meta.Thresholds.Decline <= 1) {
				t.Fatalf("accepted thresholds %+v", meta.Thresholds)
			}
		}
		l, lerr := st.Load(version)
		switch {
		case err != nil && lerr == nil:
			t.Fatalf("Load accepted metadata that ReadMetadata refused: %v", err)
		case lerr == nil:
			if l.Model == nil || l.Extractor == nil || l.Model.NumFeatures() != len(l.Meta.Features) {
				t.Fatal("Load returned an incomplete version")
			}
		default:
			var pe *fs.PathError
			if !errors.Is(lerr, modelstore.ErrNoMetadata) && !errors.Is(lerr, modelstore.ErrTampered) &&
				!errors.Is(lerr, model.ErrCorrupt) && !errors.Is(lerr, model.ErrUnsupported) && !errors.Is(lerr, model.ErrParity) &&
				!errors.Is(lerr, features.ErrUnknownFeature) && !errors.As(lerr, &pe) {
				t.Fatalf("Load refused with an unclassified error: %v", lerr)
			}
		}
	})
}

// TestReadMetadataSeedAccepted: the unmodified bundled metadata is accepted
// by the fuzz target's setup, so the fuzzer starts from a loadable version.
func TestReadMetadataSeedAccepted(t *testing.T) {
	version := testenv.BundledVersion(t)
	if _, err := modelstore.Open(testenv.ModelDir(t)).Load(version); err != nil {
		t.Fatal(err)
	}
}
