package main

import "strings"

// listFlag is a flag that may be repeated and takes comma-separated lists:
// -decision decline -decision review and -decision decline,review are the
// same. Empty items are dropped; checking the values is the command's job.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
