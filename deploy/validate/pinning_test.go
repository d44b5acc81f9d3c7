package validate

import (
	"regexp"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// pinnedRef is an image reference pinned by digest, with the tag kept for
// the reader: name:tag@sha256:<64 hex>.
var pinnedRef = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?/?[a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]*@sha256:[0-9a-f]{64}$`)

// unpinned lists the images a Dockerfile pulls without a digest: the
// syntax directive's frontend and every FROM that is neither scratch (no
// image) nor an earlier stage.
func unpinned(t *testing.T, dockerfile []byte) []string {
	t.Helper()
	var bad []string
	if syntax, _, _, ok := parser.DetectSyntax(dockerfile); ok && !pinnedRef.MatchString(syntax) {
		bad = append(bad, "# syntax="+syntax)
	}
	stages := map[string]bool{}
	for _, st := range parseStages(t, dockerfile) {
		from := st[0]
		image := from.args[0]
		if image != "scratch" && !stages[strings.ToLower(image)] && !pinnedRef.MatchString(image) {
			bad = append(bad, "FROM "+image)
		}
		if len(from.args) == 3 && strings.EqualFold(from.args[1], "as") {
			stages[strings.ToLower(from.args[2])] = true
		}
	}
	return bad
}

// TestDockerfilePinnedByDigest: every image the Dockerfile pulls (syntax
// frontend, build stage) is pinned by digest, not only by tag.
func TestDockerfilePinnedByDigest(t *testing.T) {
	if bad := unpinned(t, readDockerfile(t)); len(bad) > 0 {
		t.Errorf("images not pinned by digest (name:tag@sha256:...; docs/security.md \"Supply chain\"): %v", bad)
	}
}

// TestUnpinnedDetected: the check above can fail. Tags alone, ARG-built
// references, a digest of the wrong length and an unpinned syntax frontend
// are caught; scratch and references to earlier stages are not images.
func TestUnpinnedDetected(t *testing.T) {
	const digest = "@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d"
	for _, c := range []struct {
		dockerfile string
		want       []string
	}{
		{"FROM golang:1.26.8-bookworm" + digest + " AS build\nFROM build AS test\nFROM scratch\n", nil},
		{"# syntax=docker/dockerfile:1" + digest + "\nFROM --platform=$BUILDPLATFORM golang:1.26" + digest + " AS b\n", nil},
		{"FROM golang:1.26 AS build\nFROM scratch\n", []string{"FROM golang:1.26"}},
		{"ARG GO=1.26\nFROM golang:${GO} AS build\n", []string{"FROM golang:${GO}"}},
		{"FROM golang@sha256:abc AS build\n", []string{"FROM golang@sha256:abc"}},
		{"FROM golang" + digest + "\nFROM gcr.io/distroless/static-debian12:nonroot\n", []string{"FROM golang" + digest, "FROM gcr.io/distroless/static-debian12:nonroot"}},
		{"# syntax=docker/dockerfile:1\nFROM scratch\n", []string{"# syntax=docker/dockerfile:1"}},
	} {
		got := unpinned(t, []byte(c.dockerfile))
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("unpinned(%q) = %q, want %q", c.dockerfile, got, c.want)
		}
	}
}
