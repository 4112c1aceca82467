package gatewaytest

import (
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
