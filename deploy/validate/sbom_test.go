package validate

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// sbomFile is where make sbom (and so make image) writes the SBOM, in the
// build context; imageSBOM is where the image carries it.
const (
	sbomFile  = "bin/fraudscore.cdx.json"
	imageSBOM = "/sbom/fraudscore.cdx.json"
)

// TestSBOMPaths: the Dockerfile copies the file make writes.
func TestSBOMPaths(t *testing.T) {
	if got := strings.ReplaceAll(testenv.MakeVar(t, "SBOM"), "$(BIN)", "bin"); got != sbomFile {
		t.Errorf("%s writes the SBOM to %s, the Dockerfile copies %s", testenv.SupplyChainMk, got, sbomFile)
	}
	if !strings.Contains(string(readDockerfile(t)), " "+sbomFile+" "+imageSBOM+"\n") {
		t.Errorf("Dockerfile does not COPY %s to %s", sbomFile, imageSBOM)
	}
}

// TestSBOM runs make sbom (the pinned cyclonedx-gomod, as make image does)
// and checks that the result is a CycloneDX JSON document about this module
// whose components are exactly the modules linked into the image's binary
// (go list -deps for linux without cgo), the standard library included.
func TestSBOM(t *testing.T) {
	root := testenv.RepoRoot(t)
	out := filepath.Join(t.TempDir(), "sbom.cdx.json")
	mk := exec.Command("make", "-s", "sbom", "SBOM="+out)
	mk.Dir = root
	mk.Env = append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL=")
	if b, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make sbom: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat    string `json:"bomFormat"`
		SpecVersion  string `json:"specVersion"`
		SerialNumber string `json:"serialNumber"`
		Metadata     struct {
			Tools     []struct{ Name, Version string }
			Component struct{ Name, Type, Purl string }
		}
		Components []struct {
			Name, Version, Purl, Type string
		}
		Dependencies []struct {
			Ref       string
			DependsOn []string
		}
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatalf("SBOM is not JSON: %v", err)
	}
	if bom.BOMFormat != "CycloneDX" || !regexp.MustCompile(`^1\.[4-9]$`).MatchString(bom.SpecVersion) ||
		!regexp.MustCompile(`^urn:uuid:[0-9a-f-]{36}$`).MatchString(bom.SerialNumber) {
		t.Errorf("not a CycloneDX 1.4+ document: bomFormat %q specVersion %q serialNumber %q", bom.BOMFormat, bom.SpecVersion, bom.SerialNumber)
	}
	if len(bom.Metadata.Tools) == 0 || bom.Metadata.Tools[0].Name != "cyclonedx-gomod" || bom.Metadata.Tools[0].Version != testenv.MakeVar(t, "CYCLONEDX_GOMOD_VERSION") {
		t.Errorf("metadata.tools %+v, want the pinned cyclonedx-gomod", bom.Metadata.Tools)
	}
	if c := bom.Metadata.Component; c.Name != "github.com/fraudscore/fraudscore" || c.Type != "application" {
		t.Errorf("metadata.component %+v, want the fraudscore application", c)
	}

	// What the binary links, as the go command sees it for the image.
	list := exec.Command("go", "list", "-deps", "-tags", imageGoTags(t), "-f", "{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}}{{end}}{{end}}", "./cmd/fraudscore")
	list.Dir = root
	list.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	lb, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	want := map[string]bool{}
	for _, m := range strings.Fields(string(lb)) {
		want[m] = true
	}
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	want["std@"+strings.TrimSpace(string(goVersion))] = true

	got := map[string]bool{}
	for _, c := range bom.Components {
		if c.Type != "library" || !strings.HasPrefix(c.Purl, "pkg:golang/"+c.Name+"@"+c.Version) {
			t.Errorf("component %+v: want a library with its pkg:golang purl", c)
		}
		got[c.Name+"@"+c.Version] = true
	}
	var missing, extra []string
	for m := range want {
		if !got[m] {
			missing = append(missing, m)
		}
	}
	for m := range got {
		if !want[m] {
			extra = append(extra, m)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("SBOM components differ from the modules linked into the binary: missing %v, extra %v", missing, extra)
	}
	for _, dep := range []string{"github.com/nats-io/nats.go", "github.com/dmitryikh/leaves", "github.com/prometheus/client_golang"} {
		found := false
		for m := range got {
			found = found || strings.HasPrefix(m, dep+"@")
		}
		if !found {
			t.Errorf("SBOM does not name %s", dep)
		}
	}
	if len(bom.Dependencies) < 2 {
		t.Errorf("SBOM has %d dependency entries, want the module graph", len(bom.Dependencies))
	}
}
