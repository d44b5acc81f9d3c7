// A module that requires a vulnerable version of golang.org/x/text on
// purpose and calls the vulnerable function: the vulncheck gate must fail on
// it (internal/vulncheck tests). Never built into fraudscore.
module example.com/vulnerable

go 1.26

require golang.org/x/text v0.3.0
