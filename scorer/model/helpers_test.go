package model

import (
	"bufio"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// leavesTestdata returns leaves' testdata directory in the module cache.
// It fails (never skips) when it cannot be found.
func leavesTestdata(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/dmitryikh/leaves").Output()
	require.NoError(t, err, "go list -m github.com/dmitryikh/leaves (run `go mod download`)")
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	_, err = os.Stat(filepath.Join(dir, "lg_breast_cancer.txt"))
	require.NoError(t, err, "leaves testdata missing")
	return dir
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// readMatrix reads whitespace-separated numbers, one row a line.
func readMatrix(t testing.TB, path string) [][]float64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var rows [][]float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		row := make([]float64, len(fields))
		for i, s := range fields {
			row[i], err = strconv.ParseFloat(s, 64)
			require.NoError(t, err)
		}
		rows = append(rows, row)
	}
	require.NoError(t, sc.Err())
	return rows
}

// lgbSplit splits a LightGBM text model into header, tree blocks and footer
// (from "end of trees").
func lgbSplit(t testing.TB, text string) (header string, trees []string, footer string) {
	t.Helper()
	i := strings.Index(text, "\nTree=0\n")
	require.Positive(t, i)
	header = text[:i+1]
	rest := text[i+1:]
	j := strings.Index(rest, "end of trees")
	require.Positive(t, j)
	for _, b := range strings.Split(rest[:j], "\n\n") {
		if b = strings.TrimSpace(b); b != "" {
			trees = append(trees, b)
		}
	}
	return header, trees, rest[j:]
}

func lgbJoin(header string, trees []string, footer string) string {
	var b strings.Builder
	b.WriteString(header)
	for i, tr := range trees {
		_, body, _ := strings.Cut(tr, "\n")
		b.WriteString("\nTree=" + strconv.Itoa(i) + "\n" + body + "\n")
	}
	b.WriteString("\n\n" + footer)
	return b.String()
}

func setHeader(t testing.TB, header, key, value string) string {
	t.Helper()
	lines := strings.Split(header, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key+"=") {
			lines[i] = key + "=" + value
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("header has no %s", key)
	return ""
}

// binaryFromMulticlass derives a binary LightGBM model whose raw score is
// class k's raw score of a multiclass model: the trees k, k+n, k+2n, ...
func binaryFromMulticlass(t testing.TB, text string, numClass, k int) string {
	t.Helper()
	h, trees, footer := lgbSplit(t, text)
	require.Zero(t, len(trees)%numClass)
	var sel []string
	for i := k; i < len(trees); i += numClass {
		sel = append(sel, trees[i])
	}
	h = setHeader(t, h, "num_class", "1")
	h = setHeader(t, h, "num_tree_per_iteration", "1")
	h = setHeader(t, h, "objective", "binary sigmoid:1")
	sizes := make([]string, len(sel))
	for i := range sizes {
		sizes[i] = "0"
	}
	h = setHeader(t, h, "tree_sizes", strings.Join(sizes, " "))
	return lgbJoin(h, sel, footer)
}

func sigmoidRef(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func goldenRows(x [][]float64, p []float64) []GoldenRow {
	rows := make([]GoldenRow, len(x))
	for i := range x {
		rows[i] = GoldenRow{Features: x[i], Probability: p[i]}
	}
	return rows
}

func nanF() float64 { return math.NaN() }
