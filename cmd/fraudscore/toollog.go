package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/nats-io/nats.go"
)

// toolLogger returns the logger for the NATS connection of a command-line
// tool (verdicts tail, dlq): warnings such as disconnects as text on stderr,
// but not the permission violations the server reports asynchronously:
// connError puts those into the tool's one error line instead.
func toolLogger(stderr io.Writer) *slog.Logger {
	return slog.New(dropPermissionErrors{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})})
}

type dropPermissionErrors struct{ slog.Handler }

func (h dropPermissionErrors) Handle(ctx context.Context, r slog.Record) error {
	drop := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && errors.Is(err, nats.ErrPermissionViolation) {
			drop = true
		}
		return !drop
	})
	if drop {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h dropPermissionErrors) WithAttrs(as []slog.Attr) slog.Handler {
	return dropPermissionErrors{h.Handler.WithAttrs(as)}
}

func (h dropPermissionErrors) WithGroup(name string) slog.Handler {
	return dropPermissionErrors{h.Handler.WithGroup(name)}
}

// connError returns err with the connection's last permission violation,
// when there was one: a request the server refused for lack of permission
// otherwise fails only as a timeout.
func connError(nc *nats.Conn, err error) error {
	if err == nil {
		return nil
	}
	if last := nc.LastError(); last != nil && errors.Is(last, nats.ErrPermissionViolation) {
		return fmt.Errorf("%w (%v)", err, last)
	}
	return err
}
