package contracts_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/stretchr/testify/require"
)

// testNow is the fixed clock of the tests; testdata event times are around it.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testValidator() *contracts.Validator {
	v := contracts.NewValidator()
	v.Now = func() time.Time { return testNow }
	return v
}

type example struct {
	name string
	data []byte
}

func readExamples(t testing.TB, dir string) []example {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "events", dir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := make([]example, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out = append(out, example{name: strings.TrimSuffix(filepath.Base(f), ".json"), data: b})
	}
	return out
}

// expectation is the content of an invalid example's .expect file.
type expectation struct {
	Kind  contracts.Kind `json:"kind"`
	Paths []string       `json:"paths"`
	// Schema is "reject" when the JSON Schema expresses the broken rule,
	// "accept" when the rule is enforced in Go only, and "not_json" when the
	// payload is not JSON at all.
	Schema string `json:"schema"`
}

func readExpectation(t testing.TB, name string) expectation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", "invalid", name+".expect"))
	require.NoError(t, err, "every invalid example needs a .expect file")
	var e expectation
	require.NoError(t, json.Unmarshal(b, &e))
	require.Contains(t, []string{"reject", "accept", "not_json"}, e.Schema)
	return e
}

func problemPaths(ve *contracts.ValidationError) []string {
	paths := make([]string, 0, len(ve.Problems))
	for _, p := range ve.Problems {
		paths = append(paths, p.Path)
	}
	sort.Strings(paths)
	return paths
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
