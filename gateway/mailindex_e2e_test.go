package gateway_test

import (
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// indexerLoop matches the frame of a search indexer's background loop in a goroutine dump.
var indexerLoop = regexp.MustCompile(`(?m)^\S+\.\(\*[iI]ndexer\)\.[rR]un\(`)

// TestSearchIndexerRunsOnce boots a gateway with both IMAP listeners (imap and imaps) and web
// mail enabled: exactly one search indexer runs, shared by all of them.
func TestSearchIndexerRunsOnce(t *testing.T) {
	env := gatewaytest.Start(t)
	for _, l := range []string{"imap", "imaps", "http"} {
		if env.GW.Addr(l) == "" {
			t.Fatalf("listener %s not running", l)
		}
	}
	// The loop starts with the gateway; wait for it to be scheduled.
	var n int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		buf := make([]byte, 4<<20)
		n = len(indexerLoop.FindAll(buf[:runtime.Stack(buf, true)], -1))
		if n >= 1 {
			break
		}
	}
	// Give a second loop, if any, the time to start too.
	time.Sleep(200 * time.Millisecond)
	buf := make([]byte, 4<<20)
	if n = len(indexerLoop.FindAll(buf[:runtime.Stack(buf, true)], -1)); n != 1 {
		t.Fatalf("%d search indexer loops running, want 1", n)
	}
}
