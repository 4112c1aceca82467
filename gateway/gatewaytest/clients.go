package gatewaytest

import (
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Submission is an SMTP client of the submission listener, after STARTTLS, logged in as user;
// it is closed when the test ends.
func (e *Env) Submission(user, password string) *smtp.Client {
	e.T.Helper()
	c, err := smtp.DialStartTLS(e.GW.Addr("submission"), e.TLSConfig())
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() { c.Close() })
	if err := c.Auth(sasl.NewPlainClient("", user, password)); err != nil {
		e.T.Fatal(err)
	}
	return c
}

// Submit sends msg (lines ending in CRLF) from user to rcpts through the submission listener,
// logged in as user, and fails the test unless the gateway accepts it.
func (e *Env) Submit(user, password string, rcpts []string, msg string) {
	e.T.Helper()
	if err := e.Submission(user, password).SendMail(user, rcpts, strings.NewReader(msg)); err != nil {
		e.T.Fatal(err)
	}
}

// SendMX sends msg (lines ending in CRLF) from sender to rcpts through the MX listener, as a
// remote server would; the error is the server's refusal, if any.
func (e *Env) SendMX(sender string, rcpts []string, msg string) error {
	c, err := smtp.Dial(e.GW.Addr("smtp"))
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail(sender, rcpts, strings.NewReader(msg))
}
