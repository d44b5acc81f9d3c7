//go:build noembedded

package main

import "errors"

// embeddedOptions mirror worker/embedded.Options (whose package holds the
// server) field for field.
type embeddedOptions struct {
	StoreDir, Listen, Monitor string
	MaxPayload                int32
}

// errNoEmbedded is the worker's error when FRAUDSCORE_EMBEDDED=true asks a
// build without the embedded server for one.
var errNoEmbedded = errors.New("FRAUDSCORE_EMBEDDED=true: this build has no embedded NATS server (built with -tags noembedded, as the container image is); set FRAUDSCORE_NATS_URL to a NATS server")

// startEmbedded refuses: the noembedded tag leaves the NATS server (about a
// third of the binary) out of production builds, which connect to a NATS
// cluster.
func startEmbedded(embeddedOptions) (string, func(), error) {
	return "", nil, errNoEmbedded
}
