// Package scoreclient is the caller's side of the fraud.score request-reply
// endpoint: it sends transaction events to the score service of running
// workers and hands back each verdict or service error. It serves
// `fraudscore score` and any Go program that wants a verdict synchronously.
//
// Client.Score sends one event and returns the verdict, decoded and
// validated by contracts.DecodeVerdict, with the reply's bytes; an error
// reply of the service (the nats micro headers Nats-Service-Error and
// Nats-Service-Error-Code) is a *ServiceError. Client.Send reads events from
// a reader (one JSON document, or one event per line) and writes one line per
// verdict and per service error.
//
// The client never validates an event itself: the service is the judge, so
// what it answers is what a publisher of the same bytes would get (a dead
// letter on the stream path is a 400 here).
package scoreclient
