package imapserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

const (
	alicePW = "alice-secret-pw"
	bobPW   = "bob-secret-pw"
)

func start(t testing.TB, mods ...func(*config.Config)) *gatewaytest.Env {
	t.Helper()
	env := gatewaytest.Start(t, mods...)
	env.AddUser("alice@localhost", alicePW)
	env.AddUser("bob@example.test", bobPW)
	return env
}

// login opens an implicit-TLS session for user.
func login(t testing.TB, env *gatewaytest.Env, user, pw string, opts ...func(*imapclient.Options)) *imapclient.Client {
	t.Helper()
	o := &imapclient.Options{TLSConfig: env.TLSConfig()}
	for _, f := range opts {
		f(o)
	}
	c, err := imapclient.DialTLS(env.GW.Addr("imaps"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pw).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// deliver sends a message to rcpt through the MX listener, its line ends made CRLF.
func deliver(t testing.TB, env *gatewaytest.Env, rcpt, msg string) {
	t.Helper()
	env.Deliver(t, rcpt, strings.ReplaceAll(msg, "\n", "\r\n"))
}

func simpleMsg(subject, body string) string {
	return fmt.Sprintf("From: Sender <sender@example.org>\nTo: alice@localhost\nSubject: %s\nDate: Mon, 02 Jan 2023 15:04:05 +0000\nMessage-ID: <%s@example.org>\n\n%s\n",
		subject, strings.ReplaceAll(subject, " ", "."), body)
}

func appendMsg(t testing.TB, c *imapclient.Client, mailbox, msg string, opts *imap.AppendOptions) *imap.AppendData {
	t.Helper()
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	cmd := c.Append(mailbox, int64(len(msg)), opts)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// aliceInbox logs alice in and selects her INBOX.
func aliceInbox(t testing.TB, env *gatewaytest.Env) *imapclient.Client {
	t.Helper()
	c := login(t, env, "alice@localhost", alicePW)
	mustSelect(t, c, "INBOX")
	return c
}

func mustSelect(t testing.TB, c *imapclient.Client, mailbox string) *imap.SelectData {
	t.Helper()
	d, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		t.Fatalf("SELECT %s: %v", mailbox, err)
	}
	return d
}

// searchSeqs runs SEARCH and returns the sequence numbers found.
func searchSeqs(t testing.TB, c *imapclient.Client, crit *imap.SearchCriteria) []uint32 {
	t.Helper()
	d, err := c.Search(crit, nil).Wait()
	if err != nil {
		t.Fatalf("SEARCH %+v: %v", crit, err)
	}
	return d.AllSeqNums()
}

func fetchAll(t testing.TB, c *imapclient.Client, set imap.NumSet, o *imap.FetchOptions) []*imapclient.FetchMessageBuffer {
	t.Helper()
	msgs, err := c.Fetch(set, o).Collect()
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func wantCode(t *testing.T, err error, code imap.ResponseCode) {
	t.Helper()
	var ie *imap.Error
	if err == nil {
		t.Fatalf("want NO [%s], got OK", code)
	}
	if !asIMAPError(err, &ie) || ie.Code != code {
		t.Fatalf("want [%s], got %v", code, err)
	}
}

func asIMAPError(err error, target **imap.Error) bool {
	ie, ok := err.(*imap.Error)
	if ok {
		*target = ie
	}
	return ok
}

// raw is a line-level IMAP connection for what the client library hides.
type raw struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func rawDial(t *testing.T, addr string, tlsConf *tls.Config) *raw {
	t.Helper()
	var conn net.Conn
	var err error
	if tlsConf != nil {
		conn, err = tls.Dial("tcp", addr, tlsConf)
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := &raw{t: t, conn: conn, r: bufio.NewReader(conn)}
	r.line() // greeting
	return r
}

// overTLS starts TLS on r's connection, after the server said OK to STARTTLS.
func (r *raw) overTLS(tlsConf *tls.Config) *raw {
	tc := tls.Client(r.conn, tlsConf)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	return &raw{t: r.t, conn: tc, r: bufio.NewReader(tc)}
}

func (r *raw) line() string {
	r.t.Helper()
	l, err := r.r.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (so far %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (r *raw) send(s string) {
	r.t.Helper()
	if _, err := r.conn.Write([]byte(s + "\r\n")); err != nil {
		r.t.Fatal(err)
	}
}

// cmd sends a tagged command and returns every line up to and including the tagged reply.
func (r *raw) cmd(tag, s string) []string {
	r.t.Helper()
	r.send(tag + " " + s)
	return r.until(tag)
}

// until returns every line up to and including the tagged reply of tag.
func (r *raw) until(tag string) []string {
	r.t.Helper()
	var out []string
	for {
		l := r.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

// dialPlain connects to the plain IMAP listener, closed at the end of the test, and returns
// the client with the capabilities it was offered.
func dialPlain(t *testing.T, env *gatewaytest.Env) (*imapclient.Client, imap.CapSet) {
	t.Helper()
	c, err := imapclient.DialInsecure(env.GW.Addr("imap"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	return c, caps
}

// storeUser returns the gateway's store and the account of addr.
func storeUser(t testing.TB, env *gatewaytest.Env, addr string) (mailstore.Backend, mailstore.User) {
	t.Helper()
	a, err := address.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	st := env.GW.Store()
	u, err := st.UserByAddress(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return st, u
}

func imapclientDialRaw(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	return c, err
}

// appendSync APPENDs msg to mailbox with a synchronizing literal, its size after prefix ("" or
// "~" for a literal8), and fails unless the server asks for the bytes and then answers OK.
func (r *raw) appendSync(tag, mailbox, prefix, msg string) {
	r.t.Helper()
	r.send(fmt.Sprintf("%s APPEND %s %s{%d}", tag, mailbox, prefix, len(msg)))
	if l := r.line(); !strings.HasPrefix(l, "+") {
		r.t.Fatalf("want a continuation request, got %q", l)
	}
	r.conn.Write([]byte(msg + "\r\n"))
	if l := r.line(); !strings.HasPrefix(l, tag+" OK") {
		r.t.Fatalf("APPEND with a synchronizing %sliteral: %q", prefix, l)
	}
}
