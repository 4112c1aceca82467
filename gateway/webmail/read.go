package webmail

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/usermsg"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// loaded is one message of the current user, parsed.
type loaded struct {
	mb  mailstore.Mailbox
	msg mailstore.Message
	m   *usermsg.Message
	op  opening
}

// load finds box/uid of the query among the user's messages and parses it.
func (s *Server) load(w http.ResponseWriter, r *http.Request, q url.Values) (*loaded, bool) {
	ctx := r.Context()
	mb, ok := s.openBox(w, r, q.Get("box"))
	if !ok {
		return nil, false
	}
	uid, err := strconv.ParseUint(q.Get("uid"), 10, 32)
	if err != nil || uid == 0 {
		s.fail(w, r, http.StatusBadRequest, "No message given.")
		return nil, false
	}
	msgs, err := s.opts.Store.MessagesInRange(ctx, mb.ID, uint32(uid), uint32(uid))
	if err != nil {
		s.internal(w, r, "message", err)
		return nil, false
	}
	if len(msgs) == 0 {
		s.fail(w, r, http.StatusNotFound, "This message is gone (moved or deleted).")
		return nil, false
	}
	m, op, err := s.parse(ctx, sessionOf(r).user, msgs[0].BodyID)
	if err != nil {
		s.internal(w, r, "parse", err)
		return nil, false
	}
	if m.Date.IsZero() {
		m.Date = msgs[0].InternalDate
	}
	return &loaded{mb: mb, msg: msgs[0], m: m, op: op}, true
}

type readData struct {
	UID        uint32
	M          *usermsg.Message
	Opening    opening
	Badges     []usermsg.Badge
	HasHTML    bool
	HTMLURL    string
	Remote     bool // remote content was asked for
	HasRemote  bool
	RemoteURL  string
	Flagged    bool
	Seen       bool
	Targets    []string
	IsTrash    bool
	ShowHTML   bool
	TextURL    string
	PartPrefix string
}

func (s *Server) read(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	q := r.URL.Query()
	l, ok := s.load(w, r, q)
	if !ok {
		return
	}
	if l.msg.Flags&mailstore.FlagSeen == 0 {
		if _, err := s.opts.Store.UpdateFlags(ctx, l.mb.ID, []uint32{l.msg.UID}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen}); err != nil {
			s.internal(w, r, "mark seen", err)
			return
		}
		s.changed(sess.user.ID)
	}
	folders, err := s.folders(ctx, sess.user.ID)
	if err != nil {
		s.internal(w, r, "folders", err)
		return
	}
	base := url.Values{"box": {l.mb.Name}, "uid": {strconv.FormatUint(uint64(l.msg.UID), 10)}}
	remote := q.Get("remote") == "1"
	d := readData{UID: l.msg.UID, M: l.m, Opening: l.op, Badges: append(usermsg.ReadSenderCheck(l.m.AuthResults, s.opts.Hostname).Badges(), l.m.Security.Badges()...), HasHTML: l.m.HTML != "",
		Remote: remote, HasRemote: hasRemoteContent(l.m.HTML), Flagged: l.msg.Flags&mailstore.FlagFlagged != 0,
		Seen: true, IsTrash: l.mb.SpecialUse == `\Trash`, PartPrefix: "/mail/part?" + base.Encode() + "&n="}
	d.ShowHTML = d.HasHTML && q.Get("view") != "text"
	hv := url.Values{"box": base["box"], "uid": base["uid"]}
	if remote {
		hv.Set("remote", "1")
	}
	d.HTMLURL = "/mail/html?" + hv.Encode()
	rv := url.Values{"box": base["box"], "uid": base["uid"], "remote": {"1"}}
	d.RemoteURL = "/mail/read?" + rv.Encode()
	tv := url.Values{"box": base["box"], "uid": base["uid"], "view": {"text"}}
	d.TextURL = "/mail/read?" + tv.Encode()
	for _, f := range folders {
		if f.Name != l.mb.Name {
			d.Targets = append(d.Targets, f.Name)
		}
	}
	subject := l.m.Subject
	if subject == "" {
		subject = "(no subject)"
	}
	s.render(w, r, "read", page{Title: subject, Box: l.mb.Name, Folders: folders, Data: d})
}

// htmlBody serves a message's sanitized HTML for the read view's sandboxed iframe. Its CSP
// lets nothing load but inline images (and, when asked for this message, remote images), and
// runs no script; the iframe's sandbox repeats the no-script rule in the browser.
func (s *Server) htmlBody(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l, ok := s.load(w, r, q)
	if !ok {
		return
	}
	remote := q.Get("remote") == "1"
	img := "data:"
	if remote {
		img = "data: https: http:"
	}
	nonce := randomToken()
	h := w.Header()
	h.Set("Content-Security-Policy", fmt.Sprintf("default-src 'none'; img-src %s; style-src 'nonce-%s'; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox", img, nonce))
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">`+
		`<style nonce="%s">body{font:15px/1.45 system-ui,sans-serif;margin:8px;color:#111;word-wrap:break-word}img{max-width:100%%;height:auto}</style>`+
		`</head><body>`, nonce)
	io.WriteString(w, sanitizeHTML(l.m.HTML, remote))
	io.WriteString(w, "</body></html>")
}

// part downloads an attachment: always as an attachment, with a safe file name, under a CSP
// sandbox in case a browser renders it anyway.
func (s *Server) part(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l, ok := s.load(w, r, q)
	if !ok {
		return
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n < 0 || n >= len(l.m.Attachments) {
		s.fail(w, r, http.StatusNotFound, "No such attachment.")
		return
	}
	a := l.m.Attachments[n]
	ct := "application/octet-stream"
	if t, _, err := mime.ParseMediaType(a.ContentType); err == nil && !strings.Contains(t, "html") && !strings.Contains(t, "xml") && !strings.Contains(t, "svg") {
		ct = t
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", contentDisposition(a.Filename))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Content-Length", strconv.Itoa(len(a.Data)))
	w.Write(a.Data)
}

// contentDisposition is "attachment" with an ASCII fallback name and the RFC 6266 filename*.
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == ';' || r == '%' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(name))
}
