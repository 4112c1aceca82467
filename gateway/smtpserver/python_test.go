package smtpserver_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requirePeer skips when a real peer program is missing, unless SEALGATE_REQUIRE_PEERS is set
// (CI sets it, so a missing peer fails there instead of passing quietly).
func requirePeer(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SEALGATE_REQUIRE_PEERS") != "" {
			t.Fatalf("%s is not installed and SEALGATE_REQUIRE_PEERS is set", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return path
}

const pythonClient = `
import smtplib, ssl, sys
from email.message import EmailMessage
mx, sub, subs, cafile, pw = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)

def hp(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)

# MX: no login, local recipient.
with smtplib.SMTP(*hp(mx)) as s:
    s.ehlo("python.example.org")
    s.sendmail("py@example.org", ["alice@localhost"], b"Subject: via python mx\r\n\r\nhello\r\n")
    try:
        s.sendmail("py@example.org", ["victim@example.org"], b"Subject: relay\r\n\r\nx\r\n")
        sys.exit("relay accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code = e.recipients["victim@example.org"][0]
        assert code == 554, code

# Submission: login refused before STARTTLS, works after it.
with smtplib.SMTP(*hp(sub)) as s:
    s.ehlo()
    assert not s.has_extn("auth"), "AUTH offered before TLS"
    s.starttls(context=ctx)
    s.ehlo()
    s.login("alice@localhost", pw)
    m = EmailMessage()
    m["From"] = "Alice <alice@localhost>"
    m["To"] = "bob@example.test"
    m["Subject"] = "via python submission"
    m.set_content("Grüße aus Python\n")
    s.send_message(m)

# Implicit TLS.
with smtplib.SMTP_SSL(*hp(subs), context=ctx) as s:
    s.login("alice@localhost", pw)
    try:
        s.sendmail("bob@example.test", ["alice@localhost"], b"Subject: x\r\n\r\nx\r\n")
        sys.exit("foreign sender accepted")
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 553, e.smtp_code
print("ok")
`

func TestPythonSmtplib(t *testing.T) {
	py := requirePeer(t, "python3")
	env := start(t)
	script := filepath.Join(t.TempDir(), "client.py")
	if err := os.WriteFile(script, []byte(pythonClient), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, env.GW.Addr("smtp"), env.GW.Addr("submission"), env.GW.Addr("submissions"),
		filepath.Join(env.Dir, "tls", "cert.pem"), alicePW).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python client: %v\n%s", err, out)
	}
	if got := env.Mailbox("alice@localhost", "INBOX"); len(got) != 1 || !strings.Contains(string(got[0].Body), "via python mx") {
		t.Fatalf("alice: %v", got)
	}
	got := env.Mailbox("bob@example.test", "INBOX")
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "Subject: via python submission") || !strings.Contains(string(got[0].Body), "with ESMTPSA") {
		t.Fatalf("bob: %v", got)
	}
}
