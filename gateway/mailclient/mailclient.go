// Package mailclient is the protocol side of `sealgate mail`, a command-driven user agent: it
// submits mail over SMTP (go-smtp's client, with AUTH PLAIN) and reads mailboxes over IMAP
// (go-imap's imapclient) on any server, not only Sealgate. The connection is STARTTLS unless
// ImplicitTLS is set; the server's certificate is verified unless Insecure is set. Errors are
// one line, in words a user can act on.
package mailclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Config says where and as whom to connect.
type Config struct {
	SMTP        string // host:port of the submission server
	IMAP        string // host:port of the IMAP server
	User        string
	Password    string
	ImplicitTLS bool // TLS from the first byte (ports 465 and 993) instead of STARTTLS
	Insecure    bool // accept any server certificate
	// TLS is the base TLS configuration (for example RootCAs); nil is the system's.
	TLS *tls.Config
}

func (c Config) tlsConfig(addr string) *tls.Config {
	tc := &tls.Config{}
	if c.TLS != nil {
		tc = c.TLS.Clone()
	}
	if tc.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		tc.ServerName = host
	}
	if c.Insecure {
		tc.InsecureSkipVerify = true
	}
	return tc
}

// explain turns a connection error into one helpful line.
func explain(what, addr string, err error) error {
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	var tv *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ue), errors.As(err, &he), errors.As(err, &ce), errors.As(err, &tv):
		return fmt.Errorf("%s server %s: its certificate is not trusted (%v); use --insecure to accept it anyway", what, addr, err)
	case errors.Is(err, io.EOF), strings.Contains(err.Error(), "first record does not look like a TLS handshake"):
		return fmt.Errorf("%s server %s: the TLS handshake failed (%v); is --implicit-tls right for this port?", what, addr, err)
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "dial" {
		return fmt.Errorf("cannot connect to the %s server %s: %v", what, addr, ne.Err)
	}
	return fmt.Errorf("%s server %s: %v", what, addr, err)
}

// Send submits msg from from to rcpts.
func Send(cfg Config, from string, rcpts []string, msg []byte) error {
	if cfg.SMTP == "" {
		return errors.New("no SMTP server: give --smtp HOST:PORT or smtp in the config file")
	}
	var c *smtp.Client
	var err error
	if cfg.ImplicitTLS {
		c, err = smtp.DialTLS(cfg.SMTP, cfg.tlsConfig(cfg.SMTP))
	} else {
		c, err = smtp.DialStartTLS(cfg.SMTP, cfg.tlsConfig(cfg.SMTP))
	}
	if err != nil {
		return explain("SMTP", cfg.SMTP, err)
	}
	defer c.Close()
	if cfg.User != "" {
		if err := c.Auth(sasl.NewPlainClient("", cfg.User, cfg.Password)); err != nil {
			return fmt.Errorf("SMTP server %s refused the login as %s: %v", cfg.SMTP, cfg.User, smtpText(err))
		}
	}
	if err := c.SendMail(from, rcpts, strings.NewReader(string(msg))); err != nil {
		return fmt.Errorf("SMTP server %s refused the message: %v", cfg.SMTP, smtpText(err))
	}
	c.Quit()
	return nil
}

func smtpText(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], strings.ReplaceAll(se.Message, "\n", " "))
	}
	return err.Error()
}

// Mailbox is an IMAP session.
type Mailbox struct {
	c    *imapclient.Client
	addr string
}

// Open connects to the IMAP server and logs in.
func Open(cfg Config) (*Mailbox, error) {
	if cfg.IMAP == "" {
		return nil, errors.New("no IMAP server: give --imap HOST:PORT or imap in the config file")
	}
	opts := &imapclient.Options{TLSConfig: cfg.tlsConfig(cfg.IMAP)}
	var c *imapclient.Client
	var err error
	if cfg.ImplicitTLS {
		c, err = imapclient.DialTLS(cfg.IMAP, opts)
	} else {
		c, err = imapclient.DialStartTLS(cfg.IMAP, opts)
	}
	if err != nil {
		return nil, explain("IMAP", cfg.IMAP, err)
	}
	if err := c.Login(cfg.User, cfg.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("IMAP server %s refused the login as %s: %v", cfg.IMAP, cfg.User, imapText(err))
	}
	return &Mailbox{c: c, addr: cfg.IMAP}, nil
}

func imapText(err error) string {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Text
	}
	return err.Error()
}

// Close logs out.
func (m *Mailbox) Close() error {
	m.c.Logout().Wait()
	return m.c.Close()
}

// Folder is a mailbox on the server.
type Folder struct {
	Name             string
	Messages, Unseen uint32
}

// Folders lists the mailboxes with their message counts.
func (m *Mailbox) Folders() ([]Folder, error) {
	list, err := m.c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, NumUnseen: true}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("IMAP LIST: %v", imapText(err))
	}
	var out []Folder
	for _, d := range list {
		f := Folder{Name: d.Mailbox}
		if d.Status == nil { // a server without LIST-STATUS
			if d.Status, err = m.c.Status(d.Mailbox, &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait(); err != nil {
				continue
			}
		}
		if d.Status.NumMessages != nil {
			f.Messages = *d.Status.NumMessages
		}
		if d.Status.NumUnseen != nil {
			f.Unseen = *d.Status.NumUnseen
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name == "INBOX" && out[j].Name != "INBOX" })
	return out, nil
}

// Summary is one message as `mail list` shows it: headers only.
type Summary struct {
	Num     uint32 // sequence number: what `mail read N` takes
	From    string
	Subject string
	Date    time.Time
	Size    int64
	Seen    bool
	Flagged bool
}

func (m *Mailbox) selectFolder(folder string, readOnly bool) (uint32, error) {
	if folder == "" {
		folder = "INBOX"
	}
	d, err := m.c.Select(folder, &imap.SelectOptions{ReadOnly: readOnly}).Wait()
	if err != nil {
		return 0, fmt.Errorf("folder %q: %v", folder, imapText(err))
	}
	return d.NumMessages, nil
}

// List returns the envelopes of a folder's messages, without downloading any body.
func (m *Mailbox) List(folder string) ([]Summary, error) {
	n, err := m.selectFolder(folder, true)
	if err != nil || n == 0 {
		return nil, err
	}
	var set imap.SeqSet
	set.AddRange(1, n)
	msgs, err := m.c.Fetch(set, &imap.FetchOptions{Envelope: true, Flags: true, RFC822Size: true, InternalDate: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("IMAP FETCH: %v", imapText(err))
	}
	out := make([]Summary, 0, len(msgs))
	for _, b := range msgs {
		s := Summary{Num: b.SeqNum, Size: b.RFC822Size, Date: b.InternalDate}
		if e := b.Envelope; e != nil {
			s.Subject = e.Subject
			if !e.Date.IsZero() {
				s.Date = e.Date
			}
			if len(e.From) > 0 {
				s.From = e.From[0].Addr()
				if e.From[0].Name != "" {
					s.From = e.From[0].Name + " <" + s.From + ">"
				}
			}
		}
		for _, f := range b.Flags {
			s.Seen = s.Seen || f == imap.FlagSeen
			s.Flagged = s.Flagged || f == imap.FlagFlagged
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	return out, nil
}

// Fetch downloads message num of a folder (and so marks it seen).
func (m *Mailbox) Fetch(folder string, num uint32) ([]byte, error) {
	n, err := m.selectFolder(folder, false)
	if err != nil {
		return nil, err
	}
	if num == 0 || num > n {
		return nil, fmt.Errorf("there is no message %d in %s (it has %d)", num, orInbox(folder), n)
	}
	msgs, err := m.c.Fetch(imap.SeqSetNum(num), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("IMAP FETCH: %v", imapText(err))
	}
	if len(msgs) != 1 || len(msgs[0].BodySection) != 1 {
		return nil, fmt.Errorf("the server sent no body for message %d", num)
	}
	return msgs[0].BodySection[0].Bytes, nil
}

func orInbox(f string) string {
	if f == "" {
		return "INBOX"
	}
	return f
}

// AppendSent keeps a copy of a sent message, marked \Seen, in the folder with the \Sent
// special use (RFC 6154). A server that marks none gets it in a folder named "Sent", made
// (with the \Sent use, when the server can set one) if it is missing. It returns the folder.
func (m *Mailbox) AppendSent(msg []byte) (string, error) {
	folder, err := m.sentFolder()
	if err != nil {
		return "", err
	}
	cmd := m.c.Append(folder, int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	if _, err := cmd.Write(msg); err != nil {
		cmd.Close()
		return "", fmt.Errorf("IMAP APPEND to %q: %v", folder, err)
	}
	if err := cmd.Close(); err != nil {
		return "", fmt.Errorf("IMAP APPEND to %q: %v", folder, imapText(err))
	}
	if _, err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("IMAP APPEND to %q: %v", folder, imapText(err))
	}
	return folder, nil
}

// sentFolder finds (or makes) the folder for sent mail.
func (m *Mailbox) sentFolder() (string, error) {
	caps := m.c.Caps()
	opts := &imap.ListOptions{}
	if caps.Has(imap.CapSpecialUse) && caps.Has(imap.CapListExtended) {
		opts.ReturnSpecialUse = true
	}
	list, err := m.c.List("", "*", opts).Collect()
	if err != nil {
		return "", fmt.Errorf("IMAP LIST: %v", imapText(err))
	}
	named := ""
	for _, d := range list {
		for _, a := range d.Attrs {
			if a == imap.MailboxAttrSent {
				return d.Mailbox, nil
			}
		}
		if strings.EqualFold(d.Mailbox, "Sent") {
			named = d.Mailbox
		}
	}
	if named != "" {
		return named, nil
	}
	var co *imap.CreateOptions
	if caps.Has(imap.CapCreateSpecialUse) {
		co = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrSent}}
	}
	if err := m.c.Create("Sent", co).Wait(); err != nil {
		return "", fmt.Errorf("no folder for sent mail, and IMAP CREATE \"Sent\" failed: %v", imapText(err))
	}
	return "Sent", nil
}
