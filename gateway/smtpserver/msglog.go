package smtpserver

import (
	"strconv"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// The server logs one line per message it accepts or refuses, per refused recipient and per
// login attempt, with the same field names on every protocol (docs/DEPLOY.md, "Logs"):
// session, client, user, sender, recipients, size, result, reply, id, queue_ids. Passwords
// and message content are never logged.

// result names the outcome of a reply in the log: "accepted" (2xx), "deferred" (4xx: the
// client tries again) or "refused" (5xx).
func result(code int) string {
	switch {
	case code < 400:
		return "accepted"
	case code < 500:
		return "deferred"
	}
	return "refused"
}

func (r *reply) String() string { return strconv.Itoa(r.code) + " " + r.enh }

// logMessage logs the end of a mail transaction: the reply to DATA or BDAT for a message of
// size bytes, and where its copies went (d, when accepted).
func (s *session) logMessage(r *reply, size int64, d mailstore.Delivered) {
	rcpts := make([]string, 0, len(s.rcpts))
	for _, x := range s.rcpts {
		rcpts = append(rcpts, x.Address.String())
	}
	msg := "message " + result(r.code)
	attrs := []any{"session", s.connID, "client", s.remoteIP, "sender", s.from, "recipients", rcpts,
		"result", result(r.code), "reply", r.String(), "id", s.txID}
	if size >= 0 {
		attrs = append(attrs, "size", size) // unknown (-1) when the message was refused while arriving
	}
	if s.user != nil {
		attrs = append(attrs, "user", s.user.Address)
	}
	if r.code < 400 {
		attrs = append(attrs, "stored", len(d.Messages), "queue_ids", d.QueueIDs)
	}
	s.srv.log.Info(msg, attrs...)
}

// logRefused logs a refused MAIL FROM or RCPT TO (rcpt "" for MAIL).
func (s *session) logRefused(what, sender, rcpt string, r *reply) {
	attrs := []any{"session", s.connID, "client", s.remoteIP, "sender", sender, "result", result(r.code), "reply", r.String()}
	if rcpt != "" {
		attrs = append(attrs, "recipient", rcpt)
	}
	if s.user != nil {
		attrs = append(attrs, "user", s.user.Address)
	}
	s.srv.log.Info(what+" "+result(r.code), attrs...)
}

// logLogin logs an AUTH attempt with the user name given; err nil is a success.
func (s *session) logLogin(user string, err error) {
	attrs := []any{"protocol", "smtp", "session", s.connID, "client", s.remoteIP, "user", user, "result", "ok"}
	if err != nil {
		attrs[len(attrs)-1] = "failed"
		attrs = append(attrs, "reason", err.Error())
	}
	s.srv.log.Info("login", attrs...)
}
