// Command vulncheck runs govulncheck against a local vulnerability database
// (built by cmd/vulndb), keeps its JSON output as the report, prints one line
// per finding and exits 3 when a finding fails the gate (internal/vulncheck):
// a called vulnerability in a required module, or in the standard library
// with -stdlib fail. make vulncheck runs it; docs/security.md "Supply chain".
//
//	vulncheck -govulncheck bin/tools/govulncheck -db bin/vulndb/V -report bin/vulncheck.json ./...
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"

	"github.com/fraudscore/fraudscore/internal/vulncheck"
)

// exitFindings is govulncheck's own exit status for called vulnerabilities.
const exitFindings = 3

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vulncheck", flag.ContinueOnError)
	fs.Usage = func() {}
	tool := fs.String("govulncheck", "govulncheck", "govulncheck binary")
	db := fs.String("db", "", "local vulnerability database directory (required; cmd/vulndb builds it)")
	report := fs.String("report", "", "file to keep govulncheck's JSON output in (optional)")
	dir := fs.String("C", ".", "module directory to scan")
	stdlib := fs.String("stdlib", "fail", "called standard-library vulnerabilities: fail or warn")
	usage := func(w io.Writer) {
		fmt.Fprint(w, "usage: vulncheck [flags] [packages]\n\nRuns govulncheck (source mode, default packages ./...) against a local database,\nkeeps its JSON report and exits 3 when a called vulnerability fails the gate.\n\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.SetOutput(stderr)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return 0
	case err == nil && *db == "":
		fmt.Fprintln(stderr, "vulncheck: -db is required")
		err = flag.ErrHelp
	case err == nil && *stdlib != "fail" && *stdlib != "warn":
		fmt.Fprintf(stderr, "vulncheck: -stdlib %q: want fail or warn\n", *stdlib)
		err = flag.ErrHelp
	}
	if err != nil {
		fmt.Fprintln(stderr)
		usage(stderr)
		return 2
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}

	abs, err := filepath.Abs(*db)
	if err != nil {
		fmt.Fprintln(stderr, "vulncheck:", err)
		return 1
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, *tool, append([]string{"-C", *dir, "-db", "file://" + filepath.ToSlash(abs), "-format", "json"}, patterns...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(stderr, "vulncheck: %s: %v: %s\n", *tool, err, bytes.TrimSpace(errOut.Bytes()))
		return 1
	}
	if *report != "" {
		if err := os.WriteFile(*report, out.Bytes(), 0o644); err != nil {
			fmt.Fprintln(stderr, "vulncheck:", err)
			return 1
		}
	}
	scan, err := vulncheck.Read(&out)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !(vulncheck.Policy{FailStdlib: *stdlib == "fail"}).WriteSummary(stdout, scan) {
		return exitFindings
	}
	return 0
}
