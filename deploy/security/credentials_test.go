package security

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPasswordFileMissingOrEmpty: the worker takes its password only from
// a file and refuses to start, with a clear message and no secret in it,
// when the file is missing, empty or wrong.
func TestPasswordFileMissingOrEmpty(t *testing.T) {
	e := render(t, tlsOff)
	s := e.start(t)
	base := func(pwFile string) []string {
		return []string{
			"FRAUDSCORE_NATS_URL=" + s.url,
			"FRAUDSCORE_NATS_USER=worker",
			"FRAUDSCORE_NATS_PASSWORD_FILE=" + pwFile,
			"FRAUDSCORE_NATS_INBOX_PREFIX=" + workerInbox,
			"FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t),
		}
	}
	t.Run("missing", func(t *testing.T) {
		w := startWorker(t, base(filepath.Join(t.TempDir(), "no-such-file")))
		assert.Equal(t, 2, w.exited(t, 20*time.Second), "invalid configuration exits 2 before connecting")
		assert.Contains(t, w.Output(), "FRAUDSCORE_NATS_PASSWORD_FILE")
		assert.Contains(t, w.Output(), "no such file")
	})
	for name, content := range map[string]string{"empty": "", "blank": " \n\t\n"} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "pw")
			writeFile(t, f, content)
			w := startWorker(t, base(f))
			code := w.exited(t, 20*time.Second)
			assert.Equal(t, 2, code, "an empty secret is invalid configuration, found before connecting")
			assert.Contains(t, w.Output(), "is empty")
			assert.Contains(t, w.Output(), "invalid configuration")
			assert.Empty(t, s.logs.matching(regexp.MustCompile(`(?i)user "worker"|user:worker`)), "it must not try to connect with an empty password")
			t.Logf("exit code %d: %s", code, strings.TrimSpace(w.Output()[strings.LastIndex(w.Output(), "fraudscore:"):]))
		})
	}
	t.Run("wrong", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "pw")
		wrong := "wrong-" + randomSecret(t)
		writeFile(t, f, wrong)
		w := startWorker(t, base(f))
		assert.Equal(t, 1, w.exited(t, 20*time.Second))
		assert.Contains(t, strings.ToLower(w.Output()), "authorization violation")
		assert.NotEmpty(t, s.logs.matching(regexp.MustCompile(`(?i)authentication error.*user "worker"`)))
		assert.NotContains(t, w.Output(), wrong)
	})
	t.Run("not from the environment or the URL", func(t *testing.T) {
		// There is no password variable: a password in the environment is
		// ignored, and the worker still needs its file.
		vars := base(filepath.Join(t.TempDir(), "no-such-file"))
		vars = append(vars, "FRAUDSCORE_NATS_PASSWORD="+e.passwords["worker"])
		w := startWorker(t, vars)
		assert.Equal(t, 2, w.exited(t, 20*time.Second))
		help, err := exec.Command(bin, "--help").Output()
		require.NoError(t, err)
		assert.NotRegexp(t, `FRAUDSCORE_NATS_(PASSWORD|TOKEN|NKEY|SEED)\s`, string(help), "secrets have only *_FILE variables")
	})
}

// secretPatterns find private keys, nkey seeds and credentials files, and
// bcrypt hashes (a committed hash is an offline-crackable password).
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`),
	regexp.MustCompile(`-----BEGIN [A-Z ]*NKEY SEED-----`),
	regexp.MustCompile(`\bS[UAOCNX][A-Z2-7]{56}\b`),
	regexp.MustCompile(`\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}`),
}

// passwordLiteral finds password/token/secret keys with a literal value in
// configuration; placeholders ($VAR, ${VAR}, <...>, "", *_FILE paths) pass.
// The value must be on the key's line: "secret:" opening a YAML block
// (a Secret volume source) is not a literal.
var passwordLiteral = regexp.MustCompile(`(?i)\b(password|passwd|pass|token|secret)\b["']?[ \t]*[:=][ \t]*("?)([^\s"',}\]#]+)`)

func placeholder(v string) bool {
	return v == "" || strings.HasPrefix(v, "$") || strings.HasPrefix(v, "<") || strings.HasPrefix(v, "/") ||
		strings.HasPrefix(v, "{") || strings.EqualFold(v, "true") || strings.EqualFold(v, "false")
}

// scanFile returns the problems found in one file.
func scanFile(rel string, data []byte) []string {
	var out []string
	for _, re := range secretPatterns {
		if loc := re.FindIndex(data); loc != nil {
			out = append(out, rel+": matches "+re.String())
		}
	}
	if strings.HasPrefix(rel, "deploy/") && !strings.HasSuffix(rel, ".go") {
		for _, m := range passwordLiteral.FindAllSubmatch(data, -1) {
			if !placeholder(string(m[3])) {
				out = append(out, rel+": literal "+string(m[1])+" value")
			}
		}
	}
	return out
}

// repoFiles lists tracked and untracked (not ignored) files.
func repoFiles(t *testing.T) []string {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not found")
	}
	cmd := exec.Command(git, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = testenv.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	var files []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	return files
}

// TestNoCommittedSecrets scans the repository: no private key, nkey seed or
// bcrypt hash anywhere, and no literal password/token in deploy/.
func TestNoCommittedSecrets(t *testing.T) {
	// The scanner itself finds what it must (built at run time, so this
	// file does not match).
	planted := map[string]string{
		"x.pem":               "-----BEGIN " + "EC PRIVATE KEY-----\nMHc...\n",
		"deploy/a.conf":       "password: " + "hunter2\n",
		"deploy/b.yaml":       "  token: \"" + "s3cr3t\"\n",
		"deploy/users.conf":   "password: \"$2a$11$" + strings.Repeat("A", 53) + "\"\n",
		"deploy/worker.creds": "-----BEGIN " + "USER NKEY SEED-----\nSU" + strings.Repeat("A", 56) + "\n",
	}
	for name, content := range planted {
		assert.NotEmpty(t, scanFile(name, []byte(content)), "scanner misses %s", name)
	}
	for _, ok := range []string{"password: $FRAUDSCORE_OPS_PASSWORD\n", "password: \"<bcrypt>\"\n", "allow_responses: true\n",
		"- secret:\n    name: fraudscore-nats-users\n"} {
		assert.Empty(t, scanFile("deploy/ok.conf", []byte(ok)), ok)
	}

	files := repoFiles(t)
	require.NotEmpty(t, files)
	var problems []string
	for _, rel := range files {
		p := filepath.Join(testenv.RepoRoot(t), filepath.FromSlash(rel))
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() || st.Size() > 8<<20 {
			continue
		}
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		problems = append(problems, scanFile(rel, data)...)
	}
	assert.Empty(t, problems, "secrets in the repository")
	t.Logf("scanned %d files", len(files))
}
