// Command vulndb builds a local Go vulnerability database, in the layout
// govulncheck reads with -db file:///DIR, from the golang.org/x/vulndb module
// served by the Go module proxy: no other network access is needed. make
// vulndb runs it (mk/supplychain.mk); docs/security.md "Supply chain".
//
//	vulndb -version v0.0.0-20261105234957-e22db6528018 -out bin/vulndb/v0.0.0-...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/fraudscore/fraudscore/internal/vulndb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vulndb", flag.ContinueOnError)
	fs.Usage = func() {}
	version := fs.String("version", "latest", "version of "+vulndb.ModulePath+" to build from (a pseudo-version, or latest)")
	out := fs.String("out", "", "directory to write the database to (replaced) (required)")
	goTool := fs.String("go", "go", "go command used to download the module")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: vulndb [flags]\n\nBuilds a Go vulnerability database for govulncheck -db file:///DIR from the OSV\nreports in the %s module (downloaded through the Go module proxy).\n\nFlags:\n", vulndb.ModulePath)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.SetOutput(stderr)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return 0
	case err == nil && (*out == "" || fs.NArg() > 0):
		fmt.Fprintln(stderr, "vulndb: -out is required and no arguments are taken")
		err = flag.ErrHelp
	}
	if err != nil {
		fmt.Fprintln(stderr)
		usage(stderr)
		return 2
	}

	mod, err := vulndb.Download(ctx, *goTool, *version)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	res, err := vulndb.Build(ctx, mod.OSV(), *out, mod.Time)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "vulndb: %s@%s: %d entries, %d modules, modified %s -> %s\n",
		vulndb.ModulePath, mod.Version, res.Entries, res.Modules, res.Modified.Format("2006-01-02T15:04:05Z"), *out)
	return 0
}
