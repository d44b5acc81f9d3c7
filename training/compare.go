package training

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// ComparisonFile is the file Train writes beside metadata.json: the new
// version and the champion it may replace, each on the other's data.
const ComparisonFile = "comparison.json"

// Comparison is the content of ComparisonFile. Holdouts of different data
// are not comparable as such: each model is measured on its own holdout in
// metadata.json, and here on the other's, at its own thresholds.
type Comparison struct {
	// Champion is the version latest pointed to when training ran; empty
	// (and ChampionOnThisHoldout absent) when there was none, or it failed
	// to load.
	Champion string `json:"champion,omitempty"`
	// ChampionOnThisHoldout is the champion on this version's holdout rows,
	// at the champion's thresholds.
	ChampionOnThisHoldout *modelstore.Metrics `json:"champion_on_this_holdout,omitempty"`
	// UpstreamHoldout describes UpstreamHoldoutMetrics' data: the rows of
	// the holdout split of the upstream-aggregate generator (the data of
	// the models before population mode) with the same seed and rows.
	UpstreamHoldout string `json:"upstream_holdout,omitempty"`
	// UpstreamHoldoutMetrics is this version on that data, at its own
	// thresholds; absent when this version was trained on it.
	UpstreamHoldoutMetrics *modelstore.Metrics `json:"upstream_holdout_metrics,omitempty"`
}

// compare builds the comparison of the new version l, trained with cfg on
// holdout (rows of canonical features), with the store's champion and the
// upstream-aggregate data.
func compare(ctx context.Context, store *modelstore.Store, l *modelstore.Loaded, cfg Config, holdout []row) (Comparison, error) {
	var c Comparison
	if champion, err := store.LoadLatest(); err == nil && champion.Version != l.Version {
		preds, err := predictRows(champion, holdout)
		if err != nil {
			return c, err
		}
		m := holdoutMetrics(preds, labelsOf(holdout), champion.Meta.Thresholds)
		c.Champion, c.ChampionOnThisHoldout = champion.Version, &m
	}
	if cfg.Upstream {
		return c, nil
	}
	up := cfg
	up.Upstream = true
	var rows []row
	first := cfg.Rows*70/100 + cfg.Rows*15/100
	i := 0
	for ex, err := range Examples(ctx, up) {
		if err != nil {
			return c, err
		}
		if i >= first {
			r := row{f: ex.Features}
			if ex.Label.Fraud {
				r.label = 1
			}
			rows = append(rows, r)
		}
		i++
	}
	preds, err := predictRows(l, rows)
	if err != nil {
		return c, err
	}
	m := holdoutMetrics(preds, labelsOf(rows), l.Meta.Thresholds)
	c.UpstreamHoldout = fmt.Sprintf("synthetic seed=%d rows %d..%d of %d", cfg.Seed, first, cfg.Rows-1, cfg.Rows)
	c.UpstreamHoldoutMetrics = &m
	return c, nil
}

// writeComparison writes c into the version's directory.
func writeComparison(store *modelstore.Store, version string, c Comparison) error {
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	if err := os.WriteFile(filepath.Join(store.Dir(), version, ComparisonFile), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("training: %w", err)
	}
	return nil
}

// predictRows predicts rows of canonical features with l's model, in the
// model's feature order.
func predictRows(l *modelstore.Loaded, rows []row) ([]float64, error) {
	names := features.Names()
	idx := make([]int, len(l.Meta.Features))
	for i, n := range l.Meta.Features {
		if idx[i] = slices.Index(names, n); idx[i] < 0 {
			return nil, fmt.Errorf("training: %s needs %q: %w", l.Version, n, features.ErrUnknownFeature)
		}
	}
	preds := make([]float64, len(rows))
	vec := make([]float64, len(idx))
	for k := range rows {
		for i, j := range idx {
			vec[i] = rows[k].f[j]
		}
		p, err := l.Model.Predict(vec)
		if err != nil {
			return nil, fmt.Errorf("training: %s: %w", l.Version, err)
		}
		preds[k] = p
	}
	return preds, nil
}

func labelsOf(rows []row) []float64 {
	out := make([]float64, len(rows))
	for i := range rows {
		out[i] = rows[i].label
	}
	return out
}
