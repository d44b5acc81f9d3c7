package scoreclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/fraudscore/fraudscore/contracts"
)

// DefaultTimeout bounds one request when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Errors of the package; each message starts with "scoreclient: ".
var (
	// ErrService is matched (errors.Is) by every *ServiceError.
	ErrService = errors.New("scoreclient: service error")
	// ErrNoService: no score service listens on the subject (NATS answered
	// "no responders").
	ErrNoService = errors.New("scoreclient: no score service answered")
	// ErrTimeout: no reply within the timeout.
	ErrTimeout = errors.New("scoreclient: no reply within the timeout")
	// ErrReply: the reply is neither a verdict nor a service error.
	ErrReply = errors.New("scoreclient: the reply is not a verdict")
	// ErrNoInput: Send's input holds no event (it is empty or blank).
	ErrNoInput = errors.New("scoreclient: no event in the input")
)

// ServiceError is an error reply of the score service: the status code of
// the Nats-Service-Error-Code header (400 malformed or invalid event, 413 too
// large, 500 scoring failed, 503 draining or overloaded: retry) and the
// one-line description of the Nats-Service-Error header.
type ServiceError struct {
	Code        string
	Description string
}

// Error returns "scoreclient: service error CODE: DESCRIPTION".
func (e *ServiceError) Error() string {
	return ErrService.Error() + " " + e.Code + ": " + e.Description
}

// Is makes errors.Is(err, ErrService) true.
func (e *ServiceError) Is(target error) bool { return target == ErrService }

// Options configure a Client. The zero value asks contracts.SubjectScore with
// DefaultTimeout.
type Options struct {
	// Subject is the request subject (default contracts.SubjectScore).
	Subject string
	// Timeout bounds one request (default DefaultTimeout).
	Timeout time.Duration
}

// Client sends score requests on one connection. It is safe for concurrent
// use.
type Client struct {
	nc      *nats.Conn
	subject string
	timeout time.Duration
}

// New returns a client that sends requests on nc.
func New(nc *nats.Conn, o Options) *Client {
	c := &Client{nc: nc, subject: o.Subject, timeout: o.Timeout}
	if c.subject == "" {
		c.subject = contracts.SubjectScore
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c
}

// Reply is the answer to a successful request.
type Reply struct {
	// Data is the verdict as the service wrote it (JSON).
	Data []byte
	// Verdict is Data decoded and validated.
	Verdict contracts.Verdict
	// Header holds the reply's headers (Fraudscore-Model-Version, ...).
	Header nats.Header
}

// Score sends event, as it is, and waits for the reply. It returns the
// verdict, a *ServiceError for an error reply, or an error wrapping
// ErrNoService, ErrTimeout, ErrReply, or the connection's or ctx's error.
func (c *Client) Score(ctx context.Context, event []byte) (*Reply, error) {
	return c.ScoreMsg(ctx, &nats.Msg{Data: event})
}

// ScoreMsg is Score with headers: msg's Subject is set to the client's
// subject and its Header (traceparent, for example) is sent along.
func (c *Client) ScoreMsg(ctx context.Context, msg *nats.Msg) (*Reply, error) {
	msg.Subject = c.subject
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	m, err := c.nc.RequestMsgWithContext(rctx, msg)
	switch {
	case err == nil:
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%w on %s", ErrNoService, c.subject)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil, errors.Is(err, nats.ErrTimeout):
		return nil, fmt.Errorf("%w of %s on %s", ErrTimeout, c.timeout, c.subject)
	default:
		return nil, fmt.Errorf("scoreclient: request on %s: %w", c.subject, err)
	}
	if code := m.Header.Get(micro.ErrorCodeHeader); code != "" {
		return nil, &ServiceError{Code: code, Description: m.Header.Get(micro.ErrorHeader)}
	}
	r := &Reply{Data: m.Data, Header: m.Header}
	if err := contracts.DecodeVerdict(m.Data, &r.Verdict); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReply, err)
	}
	return r, nil
}
