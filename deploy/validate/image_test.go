package validate

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// TestDockerfile parses the Dockerfile with BuildKit's own parser and checks
// the final stage: distroless static nonroot (or scratch), a numeric
// non-root USER, only /fraudscore, /models and the SBOM copied in, the worker entry
// point, the side port; and a cached, static, stamped build stage.
func TestDockerfile(t *testing.T) {
	stages := dockerfileStages(t)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stages", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	checkStages(t, build, final)
}

func finalBase(t *testing.T) string {
	stages := dockerfileStages(t)
	return stages[len(stages)-1][0].args[0]
}

// dockerfileStages parses the Dockerfile with BuildKit's parser into stages.
func dockerfileStages(t *testing.T) [][]instr {
	t.Helper()
	return parseStages(t, readDockerfile(t))
}

// imageGoTags is the default of the build stage's GO_TAGS argument: the
// build tags the image's binary is built with (noembedded leaves the
// embedded NATS server out).
func imageGoTags(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("BuildKit parser: %v", err)
	}
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "arg") && n.Next != nil {
			if v, ok := strings.CutPrefix(n.Next.Value, "GO_TAGS="); ok {
				return strings.Trim(v, `"`)
			}
		}
	}
	t.Fatal("Dockerfile: no ARG GO_TAGS=... in the build stage")
	return ""
}

func readDockerfile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseStages parses a Dockerfile with BuildKit's parser into stages.
func parseStages(t *testing.T, dockerfile []byte) [][]instr {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		t.Fatalf("BuildKit parser: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("BuildKit parser warning: %s", w.Short)
	}
	var stages [][]instr
	for _, n := range res.AST.Children {
		in := instr{cmd: strings.ToLower(n.Value), flags: n.Flags, line: n.StartLine, orig: n.Original, json: n.Attributes["json"]}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "from" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	return stages
}

func checkStages(t *testing.T, build, final []instr) {

	// Build stage: official Go image, caches, static stamped build.
	if !strings.HasPrefix(build[0].args[0], "golang:") {
		t.Errorf("build stage FROM %s, want the official golang image", build[0].args[0])
	}
	var cacheMounts, goBuild int
	for _, in := range build {
		if in.cmd != "run" {
			continue
		}
		for _, fl := range in.flags {
			if strings.HasPrefix(fl, "--mount=type=cache") {
				cacheMounts++
			}
		}
		if s := strings.Join(in.args, " "); strings.Contains(s, "go build") {
			goBuild++
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "./cmd/fraudscore"} {
				if !strings.Contains(s, want) {
					t.Errorf("go build line lacks %q: %s", want, s)
				}
			}
		}
	}
	if cacheMounts < 3 || goBuild != 1 {
		t.Errorf("build stage: %d cache mounts (want module and build caches), %d go build", cacheMounts, goBuild)
	}

	// Final stage.
	base := final[0].args[0]
	if base != "gcr.io/distroless/static-debian12:nonroot" && base != "scratch" {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot or scratch", base)
	}
	var user string
	var copies []string
	var entry, cmdArgs string
	env := map[string]string{}
	exposed := []string{}
	for _, in := range final[1:] {
		switch in.cmd {
		case "user":
			user = in.args[0]
		case "copy", "add":
			if in.cmd == "add" {
				t.Errorf("line %d: ADD in the final stage; use COPY", in.line)
			}
			copies = append(copies, in.args[len(in.args)-1])
		case "entrypoint":
			entry = strings.Join(in.args, " ")
			if !in.json {
				t.Errorf("ENTRYPOINT must be exec (JSON) form: %s", in.orig)
			}
		case "cmd":
			cmdArgs = strings.Join(in.args, " ")
		case "env":
			for i := 0; i+1 < len(in.args); i += 2 {
				env[in.args[i]] = in.args[i+1]
			}
		case "expose":
			exposed = append(exposed, in.args...)
		case "run":
			t.Errorf("line %d: RUN in the final stage (distroless has no shell)", in.line)
		}
	}
	if user != "65532:65532" {
		t.Errorf("final USER %q, want 65532:65532 (numeric, non-root)", user)
	}
	if strings.Join(copies, ",") != "/fraudscore,/models,"+imageSBOM {
		t.Errorf("final stage copies %v, want exactly /fraudscore, /models and %s", copies, imageSBOM)
	}
	if entry != "/fraudscore" || cmdArgs != "worker" {
		t.Errorf(`ENTRYPOINT %q CMD %q, want ["/fraudscore"] ["worker"]`, entry, cmdArgs)
	}
	if env["FRAUDSCORE_MODEL_DIR"] != "/models" {
		t.Errorf("FRAUDSCORE_MODEL_DIR=%q, want /models", env["FRAUDSCORE_MODEL_DIR"])
	}
	if strings.Join(exposed, ",") != "8090" {
		t.Errorf("EXPOSE %v, want 8090", exposed)
	}

	// .dockerignore keeps the context small but includes what the build needs.
	di, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"!go.mod", "!go.sum", "!cmd/", "!models/", "!" + sbomFile} {
		if !bytes.Contains(di, []byte(want)) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

// instr is one Dockerfile instruction from BuildKit's AST.
type instr struct {
	cmd   string
	args  []string
	flags []string
	line  int
	orig  string
	json  bool // exec form
}

// TestStaticBinary: the binary built as in the Dockerfile has no ELF
// interpreter and no dynamic section (fully static), and runs in a root
// filesystem that holds nothing but itself (as in a scratch/distroless image).
func TestStaticBinary(t *testing.T) {
	bin := fraudscoreBinary(t)
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("binary has a PT_INTERP program header: it is dynamically linked")
		}
		if p.Type == elf.PT_DYNAMIC {
			t.Fatal("binary has a PT_DYNAMIC program header")
		}
	}
	if libs, _ := ef.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("binary imports shared libraries %v", libs)
	}
	// The image's tags leave the embedded NATS server out: no module of it
	// is linked, and the worker refuses FRAUDSCORE_EMBEDDED=true saying so.
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/nats-io/nats-server/v2" && strings.Contains(imageGoTags(t), "noembedded") {
			t.Errorf("the image binary (tags %q) links %s", imageGoTags(t), dep.Path)
		}
	}
	if strings.Contains(imageGoTags(t), "noembedded") {
		p := testenv.StartProcess(t, bin, []string{"worker"}, []string{"FRAUDSCORE_EMBEDDED=true",
			"FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t), "FRAUDSCORE_HTTP_ADDR=" + testenv.FreeAddr(t)})
		if code := p.WaitExit(t, 60*time.Second); code != 1 || !strings.Contains(p.Output(), "this build has no embedded NATS server") {
			t.Errorf("the image binary with FRAUDSCORE_EMBEDDED=true exited %d, want 1 naming the missing server:\n%s", code, p.Output())
		}
	}
	st, _ := os.Stat(bin)
	// The image carries the version models/latest names (Dockerfile).
	latest, err := filepath.EvalSymlinks(filepath.Join(testenv.RepoRoot(t), "models", "latest"))
	if err != nil {
		t.Fatal(err)
	}
	models := dirSize(t, latest)
	t.Logf("static binary %d bytes + models %d bytes = %d bytes (%.1f MiB); image target 25 MB",
		st.Size(), models, st.Size()+models, float64(st.Size()+models)/(1<<20))

	// Empty root: a directory with only the binary (and the models, as in
	// the image), entered with chroot in a user namespace.
	root := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "fraudscore"), data, 0o555); err != nil {
		t.Fatal(err)
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) not available: cannot chroot without privileges; ELF checks above passed")
	}
	args := []string{"-r", "chroot", root, "/fraudscore", "version"}
	if os.Geteuid() == 0 {
		args = []string{"--mount", "--pid", "--fork", "chroot", root, "/fraudscore", "version"}
	}
	out, err := exec.Command(unshare, args...).CombinedOutput()
	if err != nil && os.Geteuid() != 0 && bytes.Contains(out, []byte("Operation not permitted")) {
		t.Skipf("unprivileged user namespaces are disabled here (%s); ELF checks above passed", strings.TrimSpace(string(out)))
	}
	if err != nil {
		t.Fatalf("unshare %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !strings.HasPrefix(string(out), "fraudscore v0.0.0-deploytest (deploytest)") {
		t.Fatalf("fraudscore version in an empty root printed %q", out)
	}
	// Image size: scratch adds nothing; distroless/static adds ~2 MB.
	baseSize := int64(0)
	if finalBase(t) != "scratch" {
		baseSize = 2_000_000
	}
	if img := int64(25_000_000); st.Size()+models+baseSize > img {
		t.Errorf("binary %d + models %d + base %d bytes exceeds the %d-byte image target", st.Size(), models, baseSize, img)
	}
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
