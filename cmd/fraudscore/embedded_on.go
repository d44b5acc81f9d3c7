//go:build !noembedded

package main

import "github.com/fraudscore/fraudscore/worker/embedded"

// embeddedOptions are embedded.Options, declared here so that a build
// without the server does not import its package.
type embeddedOptions embedded.Options

// startEmbedded starts the embedded NATS JetStream server (worker/embedded)
// and returns its client URL and how to stop it. Builds with the
// noembedded tag (the container image) leave the server out.
func startEmbedded(o embeddedOptions) (url string, stop func(), err error) {
	ns, err := embedded.Start(embedded.Options(o))
	if err != nil {
		return "", nil, err
	}
	return ns.ClientURL(), ns.Shutdown, nil
}
