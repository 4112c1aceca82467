package webmail

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
	"github.com/sealgate/sealgate/gateway/usermsg"
)

type composeData struct {
	Mode        string // "", reply, replyall, forward
	Forwarded   []usermsg.Attachment
	SourceBox   string
	SourceUID   uint32
	InReplyTo   string
	References  string
	MaxUploadMB int64
}

// compose shows a new message, or a reply, reply-all or forward of box/uid.
func (s *Server) compose(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	q := r.URL.Query()
	form := map[string]string{"to": q.Get("to")}
	d := composeData{Mode: q.Get("mode"), MaxUploadMB: s.opts.MaxMessageSize >> 20}
	if d.Mode != "" {
		l, ok := s.load(w, r, q)
		if !ok {
			return
		}
		var dr usermsg.Draft
		switch d.Mode {
		case "reply", "replyall":
			dr = usermsg.Reply(l.m, sess.user.Address, d.Mode == "replyall")
		case "forward":
			dr = usermsg.Forward(l.m, sess.user.Address)
			d.Forwarded = l.m.Attachments
		default:
			s.fail(w, r, http.StatusBadRequest, "Unknown compose mode.")
			return
		}
		d.SourceBox, d.SourceUID = l.mb.Name, l.msg.UID
		form["to"] = strings.Join(dr.To, ", ")
		form["cc"] = strings.Join(dr.Cc, ", ")
		form["subject"] = dr.Subject
		form["body"] = dr.Text
		d.InReplyTo, d.References = dr.InReplyTo, strings.Join(dr.References, " ")
	}
	folders, err := s.folders(ctx, sess.user.ID)
	if err != nil {
		s.internal(w, r, "folders", err)
		return
	}
	s.render(w, r, "compose", page{Title: "New message", Folders: folders, Form: form, Data: d})
}

// sendError is a refusal the user can act on.
type sendError struct{ msg string }

func (e *sendError) Error() string { return e.msg }

// send builds the message from the compose form and submits it through the pipeline; on
// success a copy goes to the user's Sent folder.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	form := map[string]string{}
	for _, k := range []string{"to", "cc", "bcc", "subject", "body"} {
		form[k] = r.PostFormValue(k)
	}
	d := composeData{Mode: r.PostFormValue("mode"), InReplyTo: r.PostFormValue("inreplyto"), References: r.PostFormValue("references"), MaxUploadMB: s.opts.MaxMessageSize >> 20}
	err := s.submit(r, sess, form, d)
	if err == nil {
		http.Redirect(w, r, "/mail/?"+url.Values{"notice": {"Message sent."}}.Encode(), http.StatusSeeOther)
		return
	}
	var se *sendError
	if !errors.As(err, &se) {
		id := pipeline.NewID()
		s.log.Error("webmail: send", "user", sess.user.Address, "err", err, "id", id)
		err = &sendError{fmt.Sprintf("The message could not be sent because of an internal error (reference %s). Please try again later.", id)}
	}
	folders, ferr := s.folders(ctx, sess.user.ID)
	if ferr != nil {
		s.internal(w, r, "folders", ferr)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusUnprocessableEntity)
	s.render(w, r, "compose", page{Title: "New message", Folders: folders, Form: form, Data: d, Error: err.Error()})
}

func (s *Server) submit(r *http.Request, sess *session, form map[string]string, d composeData) error {
	ctx := r.Context()
	dr := usermsg.Draft{From: sess.user.Address, Subject: form["subject"], Text: form["body"], InReplyTo: d.InReplyTo,
		References: strings.Fields(d.References), Hostname: s.opts.Hostname}
	var err error
	if dr.To, err = usermsg.ParseAddressList(form["to"]); err != nil {
		return &sendError{"To: " + err.Error()}
	}
	if dr.Cc, err = usermsg.ParseAddressList(form["cc"]); err != nil {
		return &sendError{"Cc: " + err.Error()}
	}
	if dr.Bcc, err = usermsg.ParseAddressList(form["bcc"]); err != nil {
		return &sendError{"Bcc: " + err.Error()}
	}
	// Attachments kept from a forwarded message, then uploaded files.
	if box, uid := r.PostFormValue("src_box"), r.PostFormValue("src_uid"); r.PostFormValue("mode") == "forward" && box != "" && uid != "" {
		l, err := s.loadQuiet(r, box, uid)
		if err != nil {
			return err
		}
		for _, a := range l.Attachments {
			if r.PostFormValue("keep_"+strconv.Itoa(a.Index)) != "" {
				dr.Attachments = append(dr.Attachments, a)
			}
		}
	}
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File["attach"] {
			f, err := fh.Open()
			if err != nil {
				return err
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return err
			}
			ct := fh.Header.Get("Content-Type")
			dr.Attachments = append(dr.Attachments, usermsg.Attachment{Filename: fh.Filename, ContentType: ct, Data: data})
		}
	}
	rcptAddrs, err := dr.Recipients()
	if err != nil {
		return &sendError{err.Error()}
	}
	raw, err := dr.Build()
	if err != nil {
		return &sendError{err.Error()}
	}
	if int64(len(raw)) > s.opts.MaxMessageSize {
		return &sendError{fmt.Sprintf("The message is %s, larger than the %s this server accepts.", humanSize(int64(len(raw))), humanSize(s.opts.MaxMessageSize))}
	}
	env := &pipeline.Envelope{ID: pipeline.NewID(), Role: pipeline.RoleSubmission, RemoteIP: clientAddr(r), Helo: "webmail",
		TLS: isTLS(r), AuthUser: &sess.user, MailFrom: sess.user.Address, ReceivedAt: s.opts.Now()}
	seen := map[string]bool{}
	for _, a := range rcptAddrs {
		rcs, err := s.recipients(r, a, sess.user.Address)
		if err != nil {
			return err
		}
		for _, rc := range rcs {
			if k := rc.Address.Key(); !seen[k] {
				seen[k] = true
				env.Recipients = append(env.Recipients, rc)
			}
		}
		if !isASCII(a) {
			env.UTF8 = true
		}
	}
	buf := msgbuf.New(msgbuf.Options{Dir: s.opts.SpoolDir, MaxSize: s.opts.MaxMessageSize})
	defer buf.Discard()
	if _, err := buf.Write(raw); err != nil {
		return err
	}
	if err := buf.Finish(); err != nil {
		return err
	}
	delivered, err := s.opts.Pipeline.Process(ctx, env, buf)
	s.logMessage(r, env, buf.Size(), delivered, err)
	var rej *pipeline.RejectError
	switch {
	case errors.As(err, &rej):
		return &sendError{fmt.Sprintf("Not sent: your security policy refuses this message for %s: %s.", strings.Join(rej.Recipients, ", "), rej.Reason)}
	case errors.Is(err, pipeline.ErrPolicyNotApplied):
		return &sendError{"Not sent: the security policy could not be applied to this message (for example a recipient's key does not work). Nothing was sent."}
	case errors.Is(err, pipeline.ErrSenderNotOwned):
		return &sendError{"Not sent: you may only send from your own address."}
	case errors.Is(err, pipeline.ErrHeaderTooLarge), errors.Is(err, pipeline.ErrMalformedHeader):
		return &sendError{"Not sent: the message header is malformed."}
	case errors.Is(err, mailstore.ErrOverQuota):
		return &sendError{"Not sent: the recipients' mailboxes are full."}
	case err != nil:
		return err
	}
	// The Sent copy is what the user wrote (the pipeline may have signed or encrypted what left).
	sent, err := s.opts.Store.MailboxByName(ctx, sess.user.ID, "Sent")
	if err == nil {
		_, _, err = s.opts.Store.Append(ctx, mailstore.AppendRequest{UserID: sess.user.ID, MailboxID: sent.ID,
			Body: msgbuf.FromBytes(raw), Flags: mailstore.FlagSeen, InternalDate: env.ReceivedAt})
		if err == nil {
			s.opts.Index.Added(sent.ID)
		}
	}
	switch {
	case errors.Is(err, mailstore.ErrOverQuota):
		s.log.Info("webmail: sent copy not stored: mailbox full", "id", env.ID)
	case err != nil && !errors.Is(err, mailstore.ErrNotFound):
		s.log.Error("webmail: sent copy not stored", "id", env.ID, "err", err)
	}
	s.markAnswered(r, sess)
	s.changed(sess.user.ID)
	return nil
}

// markAnswered sets \Answered on the message a reply was written to.
func (s *Server) markAnswered(r *http.Request, sess *session) {
	box, uid := r.PostFormValue("src_box"), r.PostFormValue("src_uid")
	n, err := strconv.ParseUint(uid, 10, 32)
	if box == "" || err != nil || !strings.HasPrefix(r.PostFormValue("mode"), "reply") {
		return
	}
	mb, err := s.opts.Store.MailboxByName(r.Context(), sess.user.ID, box)
	if err != nil {
		return
	}
	s.opts.Store.UpdateFlags(r.Context(), mb.ID, []uint32{uint32(n)}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagAnswered})
}

// recipients resolves one address like the submission server's RCPT: a local address goes
// through the directory (aliases, sub-addresses, postmaster@, forwarding).
func (s *Server) recipients(r *http.Request, a, from string) ([]pipeline.Recipient, error) {
	addr, err := address.Parse(a)
	if err != nil {
		return nil, &sendError{fmt.Sprintf("%q is not a valid address.", a)}
	}
	if addr.IsLiteral() || !s.opts.IsLocalDomain(addr.Domain) {
		relay := !addr.IsLiteral() && s.opts.IsRelayDomain != nil && s.opts.IsRelayDomain(addr.Domain)
		return []pipeline.Recipient{{Address: addr, Relay: relay}}, nil
	}
	if s.opts.Directory != nil {
		rcs, err := s.opts.Directory.Recipients(r.Context(), addr, from)
		if errors.Is(err, addressing.ErrUnknown) {
			return nil, &sendError{fmt.Sprintf("There is no mailbox %s here.", addr)}
		}
		if errors.Is(err, addressing.ErrLoop) {
			return nil, &sendError{fmt.Sprintf("The address %s loops through aliases; ask the administrator.", addr)}
		}
		return rcs, err
	}
	u, err := s.opts.Store.UserByAddress(r.Context(), addr)
	if errors.Is(err, mailstore.ErrNotFound) {
		return nil, &sendError{fmt.Sprintf("There is no mailbox %s here.", addr)}
	}
	if err != nil {
		return nil, err
	}
	return []pipeline.Recipient{{Address: addr, UserID: u.ID}}, nil
}

func (s *Server) loadQuiet(r *http.Request, box, uid string) (*usermsg.Message, error) {
	mb, err := s.opts.Store.MailboxByName(r.Context(), sessionOf(r).user.ID, box)
	if err != nil {
		return nil, &sendError{"The forwarded message's folder is gone."}
	}
	n, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return nil, &sendError{"The forwarded message is gone."}
	}
	msgs, err := s.opts.Store.MessagesInRange(r.Context(), mb.ID, uint32(n), uint32(n))
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, &sendError{"The forwarded message is gone (moved or deleted)."}
	}
	m, _, err := s.parse(r.Context(), sessionOf(r).user, msgs[0].BodyID)
	return m, err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
