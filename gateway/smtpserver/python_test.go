package smtpserver_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/peertest"
)

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
	peertest.Require(t, "python3")
	env := start(t)
	peertest.Python(t, pythonClient, env.GW.Addr("smtp"), env.GW.Addr("submission"), env.GW.Addr("submissions"),
		filepath.Join(env.Dir, "tls", "cert.pem"), alicePW)
	if got := env.Mailbox("alice@localhost", "INBOX"); len(got) != 1 || !strings.Contains(string(got[0].Body), "via python mx") {
		t.Fatalf("alice: %v", got)
	}
	got := env.Mailbox("bob@example.test", "INBOX")
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "Subject: via python submission") || !strings.Contains(string(got[0].Body), "with ESMTPSA") {
		t.Fatalf("bob: %v", got)
	}
}
