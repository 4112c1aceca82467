package webmail

import (
	"errors"
	"net/http"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/pipeline"
)

// logMessage logs the outcome of sending a message from web mail with the fields the SMTP
// server logs for a message (docs/DEPLOY.md, "Logs"): accepted, refused by policy, or not
// sent for an internal error ("deferred": the user may try again).
func (s *Server) logMessage(r *http.Request, env *pipeline.Envelope, size int64, d mailstore.Delivered, err error) {
	rcpts := make([]string, 0, len(env.Recipients))
	for _, x := range env.Recipients {
		rcpts = append(rcpts, x.Address.String())
	}
	result := "accepted"
	var rej *pipeline.RejectError
	switch {
	case err == nil:
	case errors.As(err, &rej), errors.Is(err, pipeline.ErrSenderNotOwned), errors.Is(err, pipeline.ErrHeaderTooLarge),
		errors.Is(err, pipeline.ErrMalformedHeader):
		result = "refused"
	default:
		result = "deferred"
	}
	attrs := []any{"protocol", "webmail", "client", clientAddr(r), "user", env.AuthUser.Address, "sender", env.MailFrom,
		"recipients", rcpts, "size", size, "result", result, "id", env.ID}
	if err == nil {
		attrs = append(attrs, "stored", len(d.Messages), "queue_ids", d.QueueIDs)
	} else {
		attrs = append(attrs, "reason", err.Error())
	}
	s.log.Info("message "+result, attrs...)
}
