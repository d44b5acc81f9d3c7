package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fraudscore/fraudscore/internal/settings"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

// Challenger modes (FRAUDSCORE_CHALLENGER_MODE).
const (
	// ModeShadow: the champion decides; the challenger scores in shadow.
	ModeShadow = "shadow"
	// ModeSplit: the challenger decides for its share of cards.
	ModeSplit = "split"
)

// Config is the model lifecycle's settings, read from FRAUDSCORE_*
// variables through package settings; DefaultConfig fills the defaults the
// tags declare.
type Config struct {
	ModelDir         string        `envconfig:"MODEL_DIR" default:"models" desc:"model store; the champion is <dir>/latest, the optional challenger <dir>/challenger"`
	ReviewThreshold  float64       `envconfig:"REVIEW_THRESHOLD" default:"0" desc:"override the models' review threshold (with DECLINE_THRESHOLD)"`
	DeclineThreshold float64       `envconfig:"DECLINE_THRESHOLD" default:"0" desc:"override the models' decline threshold (with REVIEW_THRESHOLD)"`
	ChallengerMode   string        `envconfig:"CHALLENGER_MODE" default:"shadow" desc:"shadow: the champion decides, the challenger scores beside it; split: the challenger decides for CHALLENGER_SHARE of cards"`
	ChallengerShare  float64       `envconfig:"CHALLENGER_SHARE" default:"0.05" desc:"split mode: share of cards (by hash of card_token) the challenger decides, 0..1"`
	DriftWindow      int           `envconfig:"DRIFT_WINDOW" default:"10000" desc:"scored events per model version in the drift (PSI) window"`
	ReloadInterval   time.Duration `envconfig:"MODEL_RELOAD_INTERVAL" default:"10s" desc:"how often the latest and challenger links are checked for a move (SIGHUP reloads at once)"`
	Reasons          string        `envconfig:"REASONS" default:"flagged" desc:"which verdicts carry reason codes (exact TreeSHAP, the model version's reasons.json): flagged (review and decline), all, off"`
	ReasonsTop       int           `envconfig:"REASONS_TOP" default:"3" desc:"the most reason codes a verdict carries, 1..17"`
	PolicyDir        string        `envconfig:"POLICY_DIR" default:"policies" desc:"analyst rule sets (ADR 0016); the set in use is <dir>/latest, reloaded like models"`
	Rules            string        `envconfig:"RULES" default:"auto" desc:"analyst rules: auto (apply POLICY_DIR/latest when the link exists), on (the link is required at start), off"`
	VerdictFeatures  bool          `envconfig:"VERDICT_FEATURES" default:"false" desc:"verdicts carry the feature values the deciding model saw (features: {name: number or null}, in its feature order), for audit"`
}

// DefaultConfig returns the settings with no variable set.
func DefaultConfig() Config {
	var c Config
	settings.SetDefaults(&c)
	return c
}

// Section returns the lifecycle's settings section for settings.Load. With
// needModels false (a pass-through benchmark worker) the model directory
// and links are not checked.
func Section(c *Config, needModels func() bool) settings.Section {
	return settings.Section{Name: "model lifecycle", Config: c, Validate: c.Problems,
		Check: func() []string {
			if needModels != nil && !needModels() {
				return nil
			}
			return c.StoreProblems()
		}}
}

// Problems lists every rule the settings break, each naming its variables.
func (c *Config) Problems() []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.ModelDir == "" {
		add("FRAUDSCORE_MODEL_DIR is empty")
	}
	if (c.ReviewThreshold > 0) != (c.DeclineThreshold > 0) {
		add("FRAUDSCORE_REVIEW_THRESHOLD and FRAUDSCORE_DECLINE_THRESHOLD go together")
	} else if c.ReviewThreshold > 0 && !(c.ReviewThreshold <= c.DeclineThreshold && c.DeclineThreshold <= 1) {
		add("FRAUDSCORE_REVIEW_THRESHOLD=%g and FRAUDSCORE_DECLINE_THRESHOLD=%g must satisfy 0 < review <= decline <= 1", c.ReviewThreshold, c.DeclineThreshold)
	}
	if c.ChallengerMode != ModeShadow && c.ChallengerMode != ModeSplit {
		add("FRAUDSCORE_CHALLENGER_MODE=%q must be shadow or split", c.ChallengerMode)
	}
	if !(c.ChallengerShare >= 0 && c.ChallengerShare <= 1) { // also NaN
		add("FRAUDSCORE_CHALLENGER_SHARE=%g must be between 0 and 1", c.ChallengerShare)
	}
	if c.DriftWindow < 1 {
		add("FRAUDSCORE_DRIFT_WINDOW=%d must be positive", c.DriftWindow)
	}
	if c.Reasons != scorer.ReasonsFlagged && c.Reasons != scorer.ReasonsAll && c.Reasons != scorer.ReasonsOff {
		add("FRAUDSCORE_REASONS=%q must be flagged, all or off", c.Reasons)
	}
	if c.ReasonsTop < 1 || c.ReasonsTop > features.Count {
		add("FRAUDSCORE_REASONS_TOP=%d must be between 1 and %d (the features a model can read)", c.ReasonsTop, features.Count)
	}
	if c.Rules != RulesAuto && c.Rules != RulesOn && c.Rules != RulesOff {
		add("FRAUDSCORE_RULES=%q must be auto, on or off", c.Rules)
	}
	if c.Rules != RulesOff && c.PolicyDir == "" {
		add("FRAUDSCORE_POLICY_DIR is empty")
	}
	if c.ReloadInterval < 100*time.Millisecond {
		add("FRAUDSCORE_MODEL_RELOAD_INTERVAL=%s must be at least 100ms", c.ReloadInterval)
	}
	return errs
}

// StoreProblems says what is missing on this machine: the model directory
// (the worker would wait for a model that cannot appear) and, in split
// mode, the challenger link (split mode without a challenger is a mistake).
func (c *Config) StoreProblems() []string {
	if c.ModelDir == "" {
		return nil
	}
	where := c.ModelDir
	if !filepath.IsAbs(where) {
		if wd, err := os.Getwd(); err == nil {
			where = fmt.Sprintf("%s (in %s)", c.ModelDir, wd)
		}
	}
	fi, err := os.Stat(c.ModelDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []string{fmt.Sprintf("FRAUDSCORE_MODEL_DIR: model directory %s does not exist", where)}
	case err != nil:
		return []string{fmt.Sprintf("FRAUDSCORE_MODEL_DIR: model directory %s: %v", where, err)}
	case !fi.IsDir():
		return []string{fmt.Sprintf("FRAUDSCORE_MODEL_DIR: %s is not a directory", where)}
	}
	if c.ChallengerMode == ModeSplit {
		if _, err := modelstore.Open(c.ModelDir).Challenger(); err != nil {
			return []string{fmt.Sprintf("FRAUDSCORE_CHALLENGER_MODE=split needs a challenger: %v (set one with fraudscore model challenger set VERSION)", err)}
		}
	}
	if c.Rules == RulesOn {
		if _, err := rules.OpenStore(c.PolicyDir).Latest(); err != nil {
			return []string{fmt.Sprintf("FRAUDSCORE_RULES=on needs a rule set: %v (promote one with fraudscore policy promote VERSION)", err)}
		}
	}
	return nil
}
