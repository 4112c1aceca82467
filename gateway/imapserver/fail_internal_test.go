package imapserver

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// A command whose store work runs out of time (a search scanning a mailbox the index lags far
// behind) is answered NO [UNAVAILABLE], not as a server bug: trying again later helps.
func TestFailTimeout(t *testing.T) {
	s := &session{srv: &Server{log: slog.New(slog.DiscardHandler)}}
	err := s.fail(fmt.Errorf("reading texts: %w", context.DeadlineExceeded))
	ie, ok := err.(*imap.Error)
	if !ok || ie.Type != imap.StatusResponseTypeNo || ie.Code != imap.ResponseCodeUnavailable {
		t.Fatalf("fail(deadline) = %#v", err)
	}
}

// searchCtx gives a search another opTimeout after each chunk, and names the deadline as the
// cause once it runs out.
func TestSearchCtx(t *testing.T) {
	ctx, progress, cancel := searchCtx()
	progress()
	if ctx.Err() != nil || context.Cause(ctx) != nil {
		t.Fatalf("fresh search context: %v", ctx.Err())
	}
	cancel()
	if context.Cause(ctx) != context.Canceled {
		t.Fatalf("cause after cancel: %v", context.Cause(ctx))
	}
}
