package modelstore_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// editReasons rewrites the version's reasons.json through edit.
func editReasons(t *testing.T, vdir string, edit func(modelstore.ReasonTable)) {
	t.Helper()
	p := filepath.Join(vdir, modelstore.ReasonsFile)
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	var rt modelstore.ReasonTable
	require.NoError(t, json.Unmarshal(raw, &rt))
	edit(rt)
	raw, err = json.Marshal(rt)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, raw, 0o644))
}

// The bundled versions ship a table that covers every feature they use.
func TestBundledVersionsHaveReasons(t *testing.T) {
	s := modelstore.Open(testenv.ModelDir(t))
	vs, err := s.Versions()
	require.NoError(t, err)
	for _, v := range vs {
		l, err := s.Load(v)
		require.NoError(t, err, v)
		require.NotNil(t, l.Reasons, v)
		for _, f := range l.Meta.Features {
			assert.NotEmpty(t, l.Reasons[f].Code, "%s: %s", v, f)
		}
	}
	l := testenv.BundledModel(t)
	assert.Equal(t, modelstore.Reason{Code: "IP_CARD_COUNTRY_MISMATCH", Text: "IP country differs from the card's issuing country"},
		l.Reasons["ip_card_country_mismatch"])
	assert.Contains(t, l.Reasons.Codes(), "NEW_DEVICE")
}

func TestReasonTableRefusals(t *testing.T) {
	cases := map[string]func(modelstore.ReasonTable){
		"no reason":              func(rt modelstore.ReasonTable) { delete(rt, "new_device") },
		"must be 1 to 64 of A-Z": func(rt modelstore.ReasonTable) { rt["new_device"] = modelstore.Reason{Code: "new device", Text: "x"} },
		"one non-empty line": func(rt modelstore.ReasonTable) {
			rt["log_amount"] = modelstore.Reason{Code: "AMOUNT", Text: "two\nlines"}
		},
		"one non-empty line of at ": func(rt modelstore.ReasonTable) { rt["log_amount"] = modelstore.Reason{Code: "AMOUNT", Text: " "} },
	}
	for want, edit := range cases {
		t.Run(want, func(t *testing.T) {
			dir := t.TempDir()
			vdir := testenv.CopyBundled(t, dir, v1)
			editReasons(t, vdir, edit)
			_, err := modelstore.Open(dir).Load(v1)
			require.ErrorIs(t, err, modelstore.ErrReasons)
			assert.Contains(t, err.Error(), want)
			assert.Contains(t, err.Error(), modelstore.ReasonsFile)
			// Promote refuses it too, so it never becomes latest.
			require.ErrorIs(t, modelstore.Open(dir).Promote(v1), modelstore.ErrReasons)
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		dir := t.TempDir()
		vdir := testenv.CopyBundled(t, dir, v1)
		require.NoError(t, os.WriteFile(filepath.Join(vdir, modelstore.ReasonsFile), []byte("{"), 0o644))
		_, err := modelstore.Open(dir).Load(v1)
		require.ErrorIs(t, err, modelstore.ErrReasons)
	})
	t.Run("a directory", func(t *testing.T) {
		dir := t.TempDir()
		vdir := testenv.CopyBundled(t, dir, v1)
		require.NoError(t, os.Remove(filepath.Join(vdir, modelstore.ReasonsFile)))
		require.NoError(t, os.Mkdir(filepath.Join(vdir, modelstore.ReasonsFile), 0o755))
		_, err := modelstore.Open(dir).Load(v1)
		require.ErrorIs(t, err, modelstore.ErrNotRegular)
	})
}

// A version without a table loads and serves without reasons.
func TestVersionWithoutReasonsLoads(t *testing.T) {
	dir := t.TempDir()
	vdir := testenv.CopyBundled(t, dir, v1)
	require.NoError(t, os.Remove(filepath.Join(vdir, modelstore.ReasonsFile)))
	l, err := modelstore.Open(dir).Load(v1)
	require.NoError(t, err)
	assert.Nil(t, l.Reasons)
}

// WriteReasons checks the table against the version's features and leaves
// the model and metadata alone.
func TestWriteReasons(t *testing.T) {
	dir := t.TempDir()
	vdir := testenv.CopyBundled(t, dir, v1)
	s := modelstore.Open(dir)
	before, err := s.Load(v1)
	require.NoError(t, err)
	meta, err := os.ReadFile(filepath.Join(vdir, modelstore.MetadataFile))
	require.NoError(t, err)

	short := modelstore.ReasonTable{"log_amount": {Code: "AMOUNT", Text: "Amount"}}
	require.ErrorIs(t, s.WriteReasons(v1, short), modelstore.ErrReasons)

	rt := modelstore.ReasonTable{}
	for i, f := range before.Meta.Features {
		rt[f] = modelstore.Reason{Code: "FEATURE_" + strconv.Itoa(i), Text: "about " + f}
	}
	require.NoError(t, s.WriteReasons(v1, rt))
	after, err := s.Load(v1)
	require.NoError(t, err)
	assert.Equal(t, rt, after.Reasons)
	metaAfter, err := os.ReadFile(filepath.Join(vdir, modelstore.MetadataFile))
	require.NoError(t, err)
	assert.Equal(t, meta, metaAfter)
	assert.Equal(t, before.Meta.ModelSHA256, after.Meta.ModelSHA256)
}
