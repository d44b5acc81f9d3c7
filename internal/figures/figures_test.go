package figures_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fraudscore/fraudscore/internal/figures"
)

// docRoot writes doc as doc.md into a temporary directory beside copies of
// testdata and returns the directory.
func docRoot(t *testing.T, doc string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{"run.json", "micro.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "doc.md"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// check writes doc beside copies of testdata and checks it.
func check(t *testing.T, doc string) (int, []figures.Problem) {
	t.Helper()
	return figures.CheckFile(docRoot(t, doc), "doc.md")
}

func TestMatchingFigures(t *testing.T) {
	doc := "Backlog: **54 845**<!-- fig run.json results[name=\"fraudscore backlog\"].rate --> verdicts/s,\n" +
		"54.8k/s<!-- fig run.json results[name=\"fraudscore backlog\"].rate -->, ratio 0.70<!-- fig run.json ratio -->,\n" +
		"70 %<!-- fig run.json ratio *100 --> and RSS 57.0 MiB<!-- fig run.json results[0].rss_bytes /1048576 -->.\n" +
		"q 1.000<!-- fig run.json q[\"p99.9\"] -->. Score 4728 ns<!-- fig micro.txt BenchmarkScore ns/op -->, decode 1 alloc<!-- fig micro.txt BenchmarkDecode-2 allocs/op -->.\n" +
		"A limit of 64 KiB<!-- setting --> at 2000/s<!-- setting --> is no measurement.\n" +
		"Code is not a figure: `10 ms`, nor a fence:\n```\n3 ms\n```\n"
	n, probs := check(t, doc)
	if len(probs) != 0 || n != 8 {
		t.Fatalf("want 8 figures and no problems, got %d: %v", n, probs)
	}
}

func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      error
	}{
		{"wrong figure", "54 900<!-- fig run.json results[name=\"fraudscore backlog\"].rate -->", figures.ErrMismatch},
		{"too precise", "0.71<!-- fig run.json ratio -->", figures.ErrMismatch},
		{"median, not first", "4728 ns<!-- fig micro.txt BenchmarkScore ns/op -->", nil},
		{"median differs", "4800<!-- fig micro.txt BenchmarkScore ns/op -->", figures.ErrMismatch},
		{"unmarked rate", "it clears 55 000 verdicts/s on this box", figures.ErrUnmarked},
		{"unmarked latency", "p99 3.2 ms, ratio 0.70<!-- fig run.json ratio -->", figures.ErrUnmarked},
		{"setting covers one figure", "64 KiB at 2000/s<!-- setting -->", figures.ErrUnmarked},
		{"unmarked memory", "RSS under **57** MiB", figures.ErrUnmarked},
		{"selector is not prose", "3 ms<!-- setting --> 1<!-- fig run.json results[name=\"at 5k/s\"].rate -->", figures.ErrMarker},
		{"marker in code", "`1e6 / 33.9<!-- fig run.json ratio -->`", figures.ErrMarker},
		{"missing source", "1<!-- fig nope.json a -->", figures.ErrMarker},
		{"missing key", "1<!-- fig run.json results[name=\"x\"].rate -->", figures.ErrMarker},
		{"no selector", "1<!-- fig run.json -->", figures.ErrMarker},
		{"no figure", "<!-- fig run.json ratio -->", figures.ErrMarker},
		{"not a number", "1<!-- fig run.json results -->", figures.ErrMarker},
		{"unknown benchmark", "1 ns<!-- fig micro.txt BenchmarkNope ns/op -->", figures.ErrMarker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := check(t, tc.doc)
			if tc.want == nil {
				if len(probs) != 0 {
					t.Fatalf("want no problem, got %v", probs)
				}
				return
			}
			if len(probs) == 0 {
				t.Fatalf("want %v, got no problem", tc.want)
			}
			for _, p := range probs {
				if !errors.Is(p.Err, tc.want) {
					t.Errorf("want %v, got %v", tc.want, p)
				}
			}
		})
	}
}

func TestUpdateRequotesAsWritten(t *testing.T) {
	doc := "a **54 900**<!-- fig run.json results[name=\"fraudscore backlog\"].rate --> b 54.1k/s<!-- fig run.json results[0].rate -->" +
		" c 0.71<!-- fig run.json ratio --> d 78,000<!-- fig run.json results[1].rate --> e `9 ms` f 57.0<!-- fig run.json results[0].rss_bytes /1048576 -->\n"
	root := docRoot(t, doc)
	n, probs := figures.UpdateFile(root, "doc.md")
	if n != 4 || len(probs) != 0 {
		t.Fatalf("want 4 figures changed, got %d, %v", n, probs)
	}
	got, err := os.ReadFile(filepath.Join(root, "doc.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := "a **54 845**<!-- fig run.json results[name=\"fraudscore backlog\"].rate --> b 54.8k/s<!-- fig run.json results[0].rate -->" +
		" c 0.70<!-- fig run.json ratio --> d 78,868<!-- fig run.json results[1].rate --> e `9 ms` f 57.0<!-- fig run.json results[0].rss_bytes /1048576 -->\n"
	if string(got) != want {
		t.Fatalf("updated document:\n got %s\nwant %s", got, want)
	}
	if _, probs := figures.CheckFile(root, "doc.md"); len(probs) != 0 {
		t.Fatalf("updated document does not check: %v", probs)
	}
}
