package smtpserver

import (
	"encoding/base64"
	"errors"
	"strings"
)

// cmdAuth runs an AUTH exchange (RFC 4954). Neither the command line nor the client's
// responses are logged: they carry credentials.
func (c *conn) cmdAuth(arg string) {
	switch {
	case c.helo == "":
		c.protocolError(replyHeloFirst)
		return
	case c.sess.user != nil:
		c.protocolError(replyAuthDone)
		return
	case c.mail:
		c.protocolError(replyAuthInMail)
		return
	}
	mech, initial, hasInitial := strings.Cut(arg, " ")
	if mech == "" {
		c.protocolError(replyAuthSyntax)
		return
	}
	server, r := c.sess.auth(strings.ToUpper(mech))
	if r != nil {
		c.reply(r)
		return
	}
	var response []byte // nil: no initial response; empty: "="
	if hasInitial {
		var err error
		if response, err = decodeSASL(strings.TrimSpace(initial)); err != nil {
			c.protocolError(replyAuthBase64)
			return
		}
	}
	for {
		challenge, done, err := server.Next(response)
		if err != nil {
			var r *reply
			if !errors.As(err, &r) {
				r = replyAuthMalformed
			}
			c.reply(r)
			return
		}
		if done {
			break
		}
		c.reply(&reply{334, "", base64.StdEncoding.EncodeToString(challenge)})
		line, err := c.readLine()
		if err != nil {
			c.readFailed(err)
			return
		}
		if len(line) == 1 && line[0] == '*' {
			c.reply(replyAuthCancelled)
			return
		}
		if response, err = decodeSASL(string(line)); err != nil {
			c.protocolError(replyAuthBase64)
			return
		}
	}
	c.reply(replyAuthOK)
}

// decodeSASL decodes a client response; "=" is an empty one (RFC 4954 §4).
func decodeSASL(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(s)
}
