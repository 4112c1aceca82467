package smtpserver

import (
	"errors"
	"log/slog"
	"strings"
	"syscall"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
)

// The replies Sealgate gives, in one place.
var (
	replyAuthRequired   = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	replyNeedTLS        = &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11}, Message: "Encryption required for requested authentication mechanism"}
	replyAuthFailed     = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	replyAuthThrottled  = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many failed authentication attempts, try again later"}
	replyAuthIdentity   = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authorization identity must be empty or the user name"}
	replyNoAuthHere     = &smtp.SMTPError{Code: 502, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "AUTH is not available on this port; use the submission port"}
	replyBadSender      = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "Sender address syntax invalid"}
	replySenderNotOwned = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender address not owned by authenticated user"}
	replyNullSender     = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Null sender not allowed for submission"}
	replyNeedUTF8       = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7}, Message: "Non-ASCII address requires SMTPUTF8"}
	replyBadRcpt        = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Recipient address syntax invalid"}
	replyUnknownUser    = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Recipient address rejected: user unknown"}
	replyAliasLoop      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 4, 6}, Message: "Recipient address rejected: alias loop"}
	replyTooManyTargets = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients after alias expansion"}
	replyRelayDenied    = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	replyTooBig         = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message size exceeds fixed limit"}
	replyFromNotOwned   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "From: header address not owned by authenticated user"}
	replyNoSpace        = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage, try again later"}
	replyHeaderTooBig   = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message header section too large"}
	replyBadHeader      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message header section malformed"}
)

func replyTemporary(ref string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem, try again later (ref " + ref + ")"}
}

func replyQueued(id string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK: queued as " + id}
}

// dataReply translates the outcome of storing a message into the reply to DATA/BDAT.
func dataReply(log *slog.Logger, id string, err error) *smtp.SMTPError {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return replyQueued(id)
	case errors.As(err, &se):
		return se
	case errors.Is(err, msgbuf.ErrTooLarge):
		return replyTooBig
	case errors.Is(err, mailstore.ErrNoSpace), errors.Is(err, syscall.ENOSPC):
		log.Error("disk full: message refused for now", "id", id, "err", err)
		return replyNoSpace
	case errors.Is(err, pipeline.ErrSenderNotOwned):
		return replyFromNotOwned
	case errors.Is(err, pipeline.ErrHeaderTooLarge):
		return replyHeaderTooBig
	case errors.Is(err, pipeline.ErrMalformedHeader):
		return replyBadHeader
	}
	var rej *pipeline.RejectError
	if errors.As(err, &rej) {
		log.Info("message refused by policy", "id", id, "recipients", rej.Recipients, "reason", rej.Reason)
		msg := "Security policy refuses this message for " + strings.Join(rej.Recipients, ", ")
		if rej.Detailed {
			msg += ": " + rej.Reason
		}
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: msg}
	}
	if errors.Is(err, pipeline.ErrPolicyNotApplied) {
		log.Error("security policy not applied", "id", id, "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
			Message: "Security policy could not be applied, try again later (ref " + id + ")"}
	}
	log.Error("message not stored", "id", id, "err", err)
	return replyTemporary(id)
}

// authReply translates an authentication failure.
func authReply(log *slog.Logger, id string, err error) *smtp.SMTPError {
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		return replyAuthFailed
	case errors.Is(err, auth.ErrThrottled):
		return replyAuthThrottled
	}
	log.Error("authentication failed with an error", "id", id, "err", err)
	return replyTemporary(id)
}
