package webmail_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// sendForm posts the compose form as multipart/form-data, with files.
func (b *browser) sendForm(fields map[string]string, files map[string]string) response {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if _, ok := fields["csrf"]; !ok {
		fields["csrf"] = b.csrf("/mail/compose")
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for name, content := range files {
		fw, _ := mw.CreateFormFile("attach", name)
		fw.Write([]byte(content))
	}
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+"/mail/send", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)"`)
var fieldRE = regexp.MustCompile(`name="(to|cc|subject)" value="([^"]*)"`)
var bodyRE = regexp.MustCompile(`(?s)<textarea name="body"[^>]*>(.*?)</textarea>`)

// composeFields reads the compose form at path.
func (b *browser) composeFields(path string) map[string]string {
	b.t.Helper()
	r := b.get(path)
	if r.StatusCode != 200 {
		b.t.Fatalf("%s: %d %s", path, r.StatusCode, r.body)
	}
	f := map[string]string{}
	for _, m := range hiddenRE.FindAllStringSubmatch(r.body, -1) {
		f[m[1]] = unescape(m[2])
	}
	for _, m := range fieldRE.FindAllStringSubmatch(r.body, -1) {
		f[m[1]] = unescape(m[2])
	}
	if m := bodyRE.FindStringSubmatch(r.body); m != nil {
		f["body"] = unescape(m[1])
	}
	for _, m := range regexp.MustCompile(`name="(keep_\d+)" value="1" checked`).FindAllStringSubmatch(r.body, -1) {
		f[m[1]] = "1"
	}
	return f
}

func unescape(s string) string {
	r := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&amp;", "&", "&#43;", "+")
	return r.Replace(s)
}

func TestComposeReplyForward(t *testing.T) {
	e := start(t)
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	r := a.sendForm(map[string]string{"to": "Bob <" + bob + ">", "cc": "", "subject": "Quarterly plan", "body": "Hi Bob,\nsee the plan.\n"},
		map[string]string{"plan.txt": "step one\nstep two\n"})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d %s", r.StatusCode, r.body)
	}
	inbox := e.Mailbox(bob, "INBOX")
	if len(inbox) != 1 {
		t.Fatalf("bob's INBOX = %v", inbox)
	}
	got := string(inbox[0].Body)
	for _, want := range []string{"From: <alice@example.test>", "Subject: Quarterly plan", "multipart/mixed", `filename=plan.txt`, "c3RlcCBvbmUKc3RlcCB0d28K", "Sealgate-Security:"} {
		if !strings.Contains(got, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, got)
		}
	}
	if sent := e.Mailbox(alice, "Sent"); len(sent) != 1 || !strings.Contains(string(sent[0].Body), "Quarterly plan") {
		t.Fatalf("alice's Sent = %v", sent)
	}

	// Bob replies to all: to alice; the reply quotes and threads.
	b := e.browser(t)
	b.mustLogin(bob, bobPW)
	f := b.composeFields("/mail/compose?mode=replyall&box=INBOX&uid=1")
	if f["to"] != "<alice@example.test>" || f["subject"] != "Re: Quarterly plan" || !strings.Contains(f["body"], "> see the plan.") {
		t.Fatalf("reply form: %v", f)
	}
	f["body"] = "Looks good.\n" + f["body"]
	if r := b.sendForm(f, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reply: %d %s", r.StatusCode, r.body)
	}
	ai := e.Mailbox(alice, "INBOX")
	if len(ai) != 1 {
		t.Fatalf("alice's INBOX = %v", ai)
	}
	reply := string(ai[0].Body)
	orig := regexp.MustCompile(`(?i)Message-ID: (<[^>]+>)`).FindStringSubmatch(got)
	if orig == nil || !strings.Contains(reply, "In-Reply-To: "+orig[1]) || !strings.Contains(reply, "Subject: Re: Quarterly plan") {
		t.Fatalf("reply not threaded (orig %v):\n%s", orig, reply)
	}
	if e.Mailbox(bob, "INBOX") == nil {
		t.Fatal("unreachable")
	}

	// Bob forwards the original to carol@remote.test... no: to alice again, keeping the attachment.
	f = b.composeFields("/mail/compose?mode=forward&box=INBOX&uid=1")
	if f["subject"] != "Fwd: Quarterly plan" || f["keep_0"] != "1" || !strings.Contains(f["body"], "Forwarded message") {
		t.Fatalf("forward form: %v", f)
	}
	f["to"] = alice
	if r := b.sendForm(f, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("forward: %d %s", r.StatusCode, r.body)
	}
	ai = e.Mailbox(alice, "INBOX")
	if len(ai) != 2 || !strings.Contains(string(ai[1].Body), "Subject: Fwd: Quarterly plan") || !strings.Contains(string(ai[1].Body), "c3RlcCBvbmUKc3RlcCB0d28K") {
		t.Fatalf("forward with attachment not delivered: %v", ai)
	}
	// Reply (not all) from alice to the forward goes to bob only.
	f = a.composeFields("/mail/compose?mode=reply&box=INBOX&uid=2")
	if f["to"] != "<bob@example.test>" || f["cc"] != "" {
		t.Fatalf("reply form: %v", f)
	}
	// Bad input is shown, not sent.
	r = a.sendForm(map[string]string{"to": "not an address", "subject": "x", "body": "x"}, nil)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "is not a list of addresses") {
		t.Fatalf("bad address: %d %s", r.StatusCode, r.body)
	}
	r = a.sendForm(map[string]string{"to": "nobody@example.test", "subject": "x", "body": "x"}, nil)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "no mailbox nobody@example.test") {
		t.Fatalf("unknown local user: %d %s", r.StatusCode, r.body)
	}
}

func TestRequiredEncryptionRejectionShown(t *testing.T) {
	e := start(t)
	if err := e.GW.Store().SetPolicy(context.Background(), alice, map[string]string{"outbound.encrypt": "required"}); err != nil {
		t.Fatal(err)
	}
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	r := a.sendForm(map[string]string{"to": "carol@remote.test", "subject": "secret plan", "body": "the secret"}, nil)
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("send: %d %s", r.StatusCode, r.body)
	}
	if !strings.Contains(r.body, "Not sent: your security policy refuses this message for carol@remote.test") {
		t.Fatalf("rejection reason not shown: %s", r.body)
	}
	if !strings.Contains(r.body, "secret plan") {
		t.Error("the draft is lost: the subject should still be in the form")
	}
	entries, err := e.Embedded().QueueEntries(context.Background())
	if err != nil || len(entries) != 0 {
		t.Fatalf("queue after rejection: %v %v", entries, err)
	}
	if sent := e.Mailbox(alice, "Sent"); len(sent) != 0 {
		t.Fatalf("a rejected message is in Sent: %v", sent)
	}
}

const hostile = `From: Mallory <mallory@evil.test>
To: alice@example.test
Subject: hostile
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=B

--B
Content-Type: text/plain

plain version
--B
Content-Type: text/html; charset=utf-8

<html><head><meta http-equiv="refresh" content="0;url=http://evil.test/refresh"><base href="http://evil.test/">
<style>body{background:url(http://evil.test/style-bg.png)}</style>
<link rel="stylesheet" href="http://evil.test/sheet.css"></head>
<body onload="alert(1)">
<p>Hello <b>Alice</b></p>
<script>fetch('http://evil.test/script')</script>
<img src="http://evil.test/pixel.png" onerror="alert(2)">
<img src="https://evil.test/tracker.gif">
<div style="background-image:url('http://evil.test/inline-bg.png')">styled</div>
<a href="javascript:alert(3)">js link</a>
<a href="https://good.test/page">good link</a>
<iframe src="http://evil.test/frame"></iframe>
<object data="http://evil.test/obj"></object>
<svg onload="alert(4)"><image href="http://evil.test/svg.png"/></svg>
<form action="http://evil.test/form"><input name=x></form>
<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">
</body></html>
--B--
`

func TestHostileHTMLSanitized(t *testing.T) {
	e := start(t)
	e.deliver(t, "mallory@evil.test", alice, hostile)
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	page := a.get("/mail/read?box=INBOX&uid=1")
	if !strings.Contains(page.body, `sandbox="allow-popups allow-popups-to-escape-sandbox"`) || strings.Contains(page.body, "allow-scripts") || strings.Contains(page.body, "allow-same-origin") {
		t.Fatalf("HTML is not in a script-less sandboxed iframe: %s", page.body)
	}
	if strings.Contains(page.body, "evil.test/") {
		t.Fatalf("the read page itself names remote content: %s", page.body)
	}
	if !strings.Contains(page.body, "Load remote content") {
		t.Error("no offer to load remote content")
	}
	r := a.get("/mail/html?box=INBOX&uid=1")
	if r.StatusCode != 200 {
		t.Fatalf("html: %d", r.StatusCode)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "img-src data:;", "sandbox", "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("HTML CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "allow-scripts") {
		t.Errorf("HTML CSP allows scripts: %q", csp)
	}
	body := r.body[strings.Index(r.body, "<body>"):]
	for _, bad := range []string{"<script", "onload", "onerror", "javascript:", "evil.test", "url(", "<iframe", "<object", "<svg", "<form", "<style", "<link", "<meta", "<base", "style="} {
		if strings.Contains(strings.ToLower(body), bad) {
			t.Errorf("sanitized HTML contains %q:\n%s", bad, body)
		}
	}
	for _, good := range []string{"<b>Alice</b>", `href="https://good.test/page"`, `rel="noreferrer noopener"`, `src="data:image/png;base64,`} {
		if !strings.Contains(body, good) {
			t.Errorf("sanitized HTML lost %q:\n%s", good, body)
		}
	}
	// Asked for, remote images load — and still nothing else.
	r = a.get("/mail/html?box=INBOX&uid=1&remote=1")
	body = r.body[strings.Index(r.body, "<body>"):]
	if !strings.Contains(body, `src="https://evil.test/tracker.gif"`) || !strings.Contains(r.Header.Get("Content-Security-Policy"), "img-src data: https: http:") {
		t.Fatalf("remote images not allowed when asked: %s %s", r.Header.Get("Content-Security-Policy"), body)
	}
	for _, bad := range []string{"<script", "onerror", "javascript:", "url(", "<iframe", "/script", "style-bg"} {
		if strings.Contains(body, bad) {
			t.Errorf("with remote content, sanitized HTML contains %q", bad)
		}
	}
}

func TestAttachmentDownload(t *testing.T) {
	e := start(t)
	e.deliver(t, "carol@remote.test", alice, "From: carol@remote.test\nTo: alice@example.test\nSubject: files\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/plain\n\nsee attached\n"+
		"--X\nContent-Type: text/html; name=\"page.html\"\nContent-Disposition: attachment; filename=\"../../etc/evil\u202egpj.html\"\n\n<script>alert(1)</script>\n"+
		"--X\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--X--\n")
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	page := a.get("/mail/read?box=INBOX&uid=1")
	if !strings.Contains(page.body, "report.pdf") || !strings.Contains(page.body, "see attached") {
		t.Fatalf("read: %s", page.body)
	}
	r := a.get("/mail/part?box=INBOX&uid=1&n=1")
	if r.body != "%PDF-1.4\n" || r.Header.Get("Content-Type") != "application/pdf" ||
		r.Header.Get("Content-Disposition") != `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf` {
		t.Fatalf("pdf: %q %v", r.body, r.Header)
	}
	r = a.get("/mail/part?box=INBOX&uid=1&n=0")
	cd := r.Header.Get("Content-Disposition")
	if !strings.HasPrefix(cd, "attachment;") || strings.Contains(cd, "/") || strings.Contains(cd, "..") || strings.Contains(cd, "\u202e") {
		t.Fatalf("unsafe disposition %q", cd)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("an HTML attachment is served as %q", ct)
	}
	if !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("attachment headers: %v", r.Header)
	}
	if r := a.get("/mail/part?box=INBOX&uid=1&n=7"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("missing part: %d", r.StatusCode)
	}
}

func TestSecurityBadges(t *testing.T) {
	e := start(t)
	e.deliverEncrypted(t, "sealed", "for your eyes only")
	e.deliver(t, "carol@remote.test", alice, "From: carol@remote.test\nTo: alice@example.test\nSubject: plain\nSealgate-Security: received=pgp; decrypted=yes; signature=pass; signer=ceo@example.test\n\nforged header\n")
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	r := a.get("/mail/read?box=INBOX&uid=1")
	for _, want := range []string{"for your eyes only", "Arrived encrypted (OpenPGP)", "Decrypted by the gateway", "Signature valid — bob@example.test"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("read view lacks %q", want)
		}
	}
	if l := a.get("/mail/"); !strings.Contains(l.body, `title="arrived encrypted"`) {
		t.Error("list has no encrypted marker")
	}
	r = a.get("/mail/read?box=INBOX&uid=2")
	if !strings.Contains(r.body, "Arrived unencrypted") || strings.Contains(r.body, "Signature valid") || strings.Contains(r.body, "ceo@example.test</li>") {
		t.Fatalf("a forged Sealgate-Security header shows as a result: %s", r.body)
	}
}

func TestKeysPage(t *testing.T) {
	e := start(t)
	e.deliverEncrypted(t, "k", "k") // gives alice and bob keys
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	es, err := e.GW.Keyring().Entries(context.Background(), alice)
	if err != nil || len(es) != 1 {
		t.Fatalf("entries: %v %v", es, err)
	}
	page := a.get("/mail/keys")
	if !strings.Contains(page.body, es[0].Fingerprint) || !strings.Contains(page.body, "OpenPGP") {
		t.Fatalf("keys page lacks the fingerprint %s: %s", es[0].Fingerprint, page.body)
	}
	dl := a.get("/mail/keys/public.asc")
	if !strings.HasPrefix(dl.body, "-----BEGIN PGP PUBLIC KEY BLOCK-----") || strings.Contains(dl.body, "PRIVATE") ||
		!strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("download: %v %q", dl.Header, dl.body)
	}
	upload := func(key string) response {
		return a.postCSRF("/mail/keys", "/mail/keys", url.Values{"key": {key}})
	}
	// A key for someone else is refused.
	r := upload(armoredKey(t, "Bob", bob, false))
	if loc, _ := url.QueryUnescape(r.Header.Get("Location")); !strings.Contains(loc, "only upload a key for your own address") {
		t.Fatalf("foreign key: %d %q", r.StatusCode, loc)
	}
	// A secret key is refused.
	r = upload(armoredKey(t, "Alice", alice, true))
	if loc, _ := url.QueryUnescape(r.Header.Get("Location")); !strings.Contains(loc, "secret key") {
		t.Fatalf("secret key: %q", loc)
	}
	r = upload("garbage")
	if loc, _ := url.QueryUnescape(r.Header.Get("Location")); !strings.Contains(loc, "not an OpenPGP public key") {
		t.Fatalf("garbage: %q", loc)
	}
	// Her own new public key is imported and listed.
	r = upload(armoredKey(t, "Alice", alice, false))
	loc, _ := url.QueryUnescape(r.Header.Get("Location"))
	if !strings.Contains(loc, "notice=Imported") {
		t.Fatalf("own key: %q", loc)
	}
	es, _ = e.GW.Keyring().Entries(context.Background(), alice)
	if len(es) != 2 {
		t.Fatalf("after upload alice has %d keys", len(es))
	}
	page = a.get("/mail/keys")
	for _, k := range es {
		if !strings.Contains(page.body, k.Fingerprint) {
			t.Errorf("keys page lacks %s", k.Fingerprint)
		}
	}
	if bobs, _ := e.GW.Keyring().Entries(context.Background(), bob); len(bobs) != 1 {
		t.Fatalf("bob's keys changed: %v", bobs)
	}
}

func armoredKey(t *testing.T, name, addr string, secret bool) string {
	t.Helper()
	ent, err := openpgp.NewEntity(name, "", addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	typ := openpgp.PublicKeyType
	if secret {
		typ = openpgp.PrivateKeyType
	}
	w, _ := armor.Encode(&b, typ, nil)
	if secret {
		err = ent.SerializePrivate(w, nil)
	} else {
		err = ent.Serialize(w)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.String()
}

// Compose resolves local recipients like SMTP submission: aliases and postmaster@ reach their
// accounts.
func TestComposeToAliasAndPostmaster(t *testing.T) {
	e := start(t)
	if err := e.Embedded().SetAlias(context.Background(), "team@example.test",
		mailstore.Alias{Address: "team@example.test", Targets: []string{bob}}, nil); err != nil {
		t.Fatal(err)
	}
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	for _, to := range []string{"team@example.test", "postmaster@example.test"} {
		r := a.sendForm(map[string]string{"to": to, "subject": "to " + to, "body": "hello\n"}, nil)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("send to %s: %d %s", to, r.StatusCode, r.body)
		}
	}
	if got := e.Mailbox(bob, "INBOX"); len(got) != 1 || !strings.Contains(string(got[0].Body), "Subject: to team@example.test") {
		t.Fatalf("bob's INBOX: %v", got)
	}
	// The gateway made postmaster@localhost, its first account, on start: the administrator.
	if got := e.Mailbox("postmaster@localhost", "INBOX"); len(got) != 1 {
		t.Fatalf("postmaster's INBOX: %v", got)
	}
}

// A recipient in a relay domain (gateway mode) gets the inbound treatment: its copy goes to the
// internal server with the gateway's result header.
func TestComposeToRelayDomain(t *testing.T) {
	internal := deliverytest.Start(t, deliverytest.Options{})
	e := start(t, func(c *config.Config) { c.Relay.Domains = map[string]string{"corp.test": internal.Addr} })
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	if r := a.sendForm(map[string]string{"to": "carol@corp.test", "subject": "inside", "body": "hello\n"}, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d %s", r.StatusCode, r.body)
	}
	internal.WaitReceived(t, 1)
	if body := string(internal.Received()[0].Body); strings.Count(body, "Sealgate-Security: received=plain") != 1 {
		t.Fatalf("copy for the relay domain:\n%s", body)
	}
}
