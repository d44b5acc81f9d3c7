// Command vulnerable calls golang.org/x/text/language.Parse from a version
// with known vulnerabilities (GO-2021-0113, GO-2022-1059), for the vulncheck
// gate's test.
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() {
	tag, err := language.Parse(os.Args[len(os.Args)-1])
	fmt.Println(tag, err)
}
