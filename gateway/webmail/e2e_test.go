package webmail_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/peertest"
)

const hostileNewsletter = `From: News <news@evil.test>
To: alice@example.test
Subject: Hostile newsletter
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><meta http-equiv="refresh" content="0;url=http://evil.test/refresh">
<link rel="stylesheet" href="http://evil.test/sheet.css"><style>@import url(http://evil.test/import.css); body{background:url(http://evil.test/bg.png)}</style></head>
<body onload="alert('onload');document.title='pwned'">
<p>Hello Alice, <b>great offers</b> inside.</p>
<script>alert('script'); window.pwned = 1; fetch('http://evil.test/script');</script>
<img src="http://evil.test/pixel.png" onerror="alert('onerror')">
<img src="https://evil.test/tracker.gif" width="1" height="1">
<div style="background-image:url('http://evil.test/inline.png')">styled</div>
<a href="javascript:alert('link')">click me</a>
<iframe src="http://evil.test/frame"></iframe>
<svg onload="alert('svg')"><image href="http://evil.test/svg.png"/></svg>
<video src="http://evil.test/v.mp4" autoplay></video>
<object data="http://evil.test/o.swf"></object>
</body></html>
`

// TestBrowserE2E drives the web mail in headless Chromium (playwright-core from npm, in
// e2e/node_modules after `npm ci` there). SEALGATE_SCREENSHOTS=DIR saves the screenshots of
// the main pages (the ones in docs/screenshots were made so).
func TestBrowserE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	peertest.RequireFile(t, "chromium", chromium)
	node, err := exec.LookPath("node")
	if err != nil {
		node = "/nonexistent/node"
	}
	peertest.RequireFile(t, "node", node)
	dir, _ := filepath.Abs("e2e")
	peertest.RequireFile(t, "playwright-core (run npm ci in gateway/webmail/e2e)", filepath.Join(dir, "node_modules", "playwright-core"))

	e := start(t)
	e.deliver(t, "carol@remote.test", alice, "From: Carol <carol@remote.test>\nTo: alice@example.test\nSubject: Team meeting moved to 3pm\n\nSee you there.\n")
	e.deliverEncrypted(t, "Sealed quarterly figures", "Revenue is up 12% this quarter.")
	e.deliver(t, "news@evil.test", alice, hostileNewsletter)
	es, err := e.GW.Keyring().Entries(context.Background(), alice)
	if err != nil || len(es) == 0 {
		t.Fatalf("alice's keys: %v %v", es, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "webmail.e2e.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SEALGATE_URL="+e.base, "ALICE="+alice, "ALICE_PW="+alicePW, "BOB="+bob, "BOB_PW="+bobPW,
		"ALICE_FPR="+es[0].Fingerprint, "CHROMIUM="+chromium)
	if d := os.Getenv("SEALGATE_SCREENSHOTS"); d != "" {
		abs, _ := filepath.Abs(d)
		os.MkdirAll(abs, 0o755)
		cmd.Env = append(cmd.Env, "SEALGATE_SCREENSHOTS="+abs)
	}
	out, err := cmd.CombinedOutput()
	t.Logf("browser:\n%s", out)
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("browser test failed: %v", err)
	}
	// What the browser sent arrived through the pipeline, and bob has a Sent copy.
	if got := e.Mailbox(bob, "Sent"); len(got) != 1 || !strings.Contains(string(got[0].Body), "Sent from the browser") {
		t.Fatalf("bob's Sent: %v", got)
	}
}
