package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// ErrRebaseline is returned (wrapped) when Rebaseline refuses a version: its
// training data cannot be regenerated, or what was regenerated is not the
// data it was trained on.
var ErrRebaseline = errors.New("training: rebaseline refused")

// Rebaseline rewrites the drift baselines (feature_baselines) of an existing
// population-mode version without retraining it. It regenerates the
// version's training data from the data configuration its metadata records
// (seed, rows, cards, devices, warm-up, missing aggregates: data.generator
// must be what Train writes for them), proves it is the data the version was
// trained on (the row count, the fraud rate of the data and of every split,
// and the holdout rows at the golden rows' indexes equal to the golden rows'
// features bit for bit), builds the baselines with featureBaselines and
// replaces only that field of metadata.json: every other byte stays as it
// was, which Rebaseline checks before writing. The version must load
// through the store's checks afterwards. From cfg only FraudRate,
// BaselineBins and Log are used; the data settings come from the metadata.
func Rebaseline(ctx context.Context, store *modelstore.Store, version string, cfg Config) (modelstore.Metadata, error) {
	meta, err := store.ReadMetadata(version)
	if err != nil {
		return meta, err
	}
	path := filepath.Join(store.Dir(), version, modelstore.MetadataFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return meta, fmt.Errorf("training: %w", err)
	}
	if again, err := encodeMetadata(meta); err != nil || !bytes.Equal(again, raw) {
		return meta, fmt.Errorf("%w: %s: metadata.json is not as the store writes it, rewriting it would change more than feature_baselines", ErrRebaseline, version)
	}
	if !slices.Equal(meta.Features, features.Names()) {
		return meta, fmt.Errorf("%w: %s: features %v are not the canonical %v", ErrRebaseline, version, meta.Features, features.Names())
	}
	data, err := dataConfig(meta.Data)
	if err != nil {
		return meta, fmt.Errorf("%w: %s: %w", ErrRebaseline, version, err)
	}
	data.FraudRate, data.BaselineBins, data.Log = cfg.FraudRate, cfg.BaselineBins, cfg.Log
	data.GoldenRows = len(meta.GoldenRows)
	data.defaults()
	fmt.Fprintf(data.Log, "rebaseline: %s: regenerating %d rows from %s, seed %d\n", version, data.Rows, data.generatorName(), data.Seed)
	rows, frauds, err := generateRows(ctx, data)
	if err != nil {
		return meta, err
	}
	train, valid, holdout := splitRows(rows, data.Rows)
	if err := sameData(meta, rows, frauds, train, valid, holdout); err != nil {
		return meta, fmt.Errorf("%w: %s: the regenerated data is not the version's: %w", ErrRebaseline, version, err)
	}
	masked := 0
	for i := range holdout {
		if holdout[i].masked {
			masked++
		}
	}
	old := meta.FeatureBaselines
	meta.FeatureBaselines = featureBaselines(meta.Features, train, holdout, data.BaselineBins)
	for i, fb := range meta.FeatureBaselines {
		if i < len(old) && old[i].Missing != fb.Missing {
			fmt.Fprintf(data.Log, "rebaseline: %s: missing %d -> %d of the holdout's rows\n", fb.Feature, old[i].Missing, fb.Missing)
		}
	}
	fmt.Fprintf(data.Log, "rebaseline: %s: data and %d golden rows reproduced bit for bit; baselines from %d holdout rows (%d masked left out)\n",
		version, len(meta.GoldenRows), len(holdout)-masked, masked)
	out, err := encodeMetadata(meta)
	if err != nil {
		return meta, fmt.Errorf("training: %w", err)
	}
	if err := replaceFile(path, out); err != nil {
		return meta, err
	}
	if _, err := store.Load(version); err != nil {
		return meta, fmt.Errorf("training: %s no longer loads after its rebaseline: %w", version, err)
	}
	return meta, nil
}

// encodeMetadata encodes meta as modelstore.Store.Write does.
func encodeMetadata(meta modelstore.Metadata) ([]byte, error) {
	raw, err := json.MarshalIndent(meta, "", "  ")
	return append(raw, '\n'), err
}

// replaceFile replaces path with data atomically and durably: a synced
// temporary file beside it, renamed over it.
func replaceFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".rebaseline-*")
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("training: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("training: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("training: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("training: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("training: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("training: %w", err)
	}
	return nil
}

// dataConfig is the population-mode Config whose Generator is d.Generator,
// with d's seed and rows.
func dataConfig(d modelstore.DataInfo) (Config, error) {
	var c Config
	var warmUp string
	if _, err := fmt.Sscanf(d.Generator, "synthetic/population cards=%d devices=%d aggregates=scorer/velocity warmup=%s missing_aggregates=%g",
		&c.Cards, &c.Devices, &warmUp, &c.MissingAggregates); err != nil {
		return c, fmt.Errorf("data.generator %q is not population mode as Train records it: %w", d.Generator, err)
	}
	var err error
	if c.WarmUp, err = time.ParseDuration(warmUp); err != nil {
		return c, fmt.Errorf("data.generator %q: warmup: %w", d.Generator, err)
	}
	if c.WarmUp == 0 {
		c.WarmUp = -1 // none, not the default
	}
	if c.MissingAggregates == 0 {
		c.MissingAggregates = -1
	}
	c.Seed, c.Rows = d.Seed, d.Rows
	if c.Rows <= 0 {
		return c, fmt.Errorf("data.rows %d", d.Rows)
	}
	check := c
	check.defaults()
	if got := check.generatorName(); got != d.Generator {
		return c, fmt.Errorf("data.generator %q reads back as %q", d.Generator, got)
	}
	return c, nil
}

// sameData reports how the regenerated rows differ from what meta records
// of its training data, or nil: row counts and fraud rates (data and every
// split, exactly), and the holdout rows at the golden rows' indexes
// (goldenIndex, which depends on labels alone) equal to the golden rows'
// features bit for bit, missing for missing.
func sameData(meta modelstore.Metadata, rows []row, frauds int, train, valid, holdout []row) error {
	if len(rows) != meta.Data.Rows {
		return fmt.Errorf("%d rows, metadata says %d", len(rows), meta.Data.Rows)
	}
	if fr := float64(frauds) / float64(len(rows)); fr != meta.Data.FraudRate {
		return fmt.Errorf("fraud rate %v, metadata says %v", fr, meta.Data.FraudRate)
	}
	for _, s := range []struct {
		name string
		rows []row
		want modelstore.Metrics
	}{{"training", train, meta.Training}, {"validation", valid, meta.Validation}, {"holdout", holdout, meta.Holdout}} {
		got := splitMetrics(s.rows, nil)
		if got.Rows != s.want.Rows || got.FraudRate != s.want.FraudRate {
			return fmt.Errorf("%s split: %d rows, fraud rate %v; metadata says %d, %v", s.name, got.Rows, got.FraudRate, s.want.Rows, s.want.FraudRate)
		}
	}
	idx := goldenIndex(holdout, len(meta.GoldenRows))
	if len(idx) != len(meta.GoldenRows) {
		return fmt.Errorf("%d golden rows from the holdout, metadata has %d", len(idx), len(meta.GoldenRows))
	}
	for k, i := range idx {
		want := meta.GoldenRows[k].Features
		if len(want) != len(holdout[i].f) {
			return fmt.Errorf("golden row %d has %d features, want %d", k, len(want), len(holdout[i].f))
		}
		for j, v := range holdout[i].f {
			w := want[j]
			if math.IsNaN(v) != math.IsNaN(w) || (!math.IsNaN(v) && math.Float64bits(v) != math.Float64bits(w)) {
				return fmt.Errorf("golden row %d (holdout row %d), %s: regenerated %v, metadata has %v", k, i, meta.Features[j], v, w)
			}
		}
	}
	return nil
}
