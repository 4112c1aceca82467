package smtpserver

import (
	"errors"
	"log/slog"
	"strings"
	"syscall"

	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
)

// reply is one SMTP reply: a code, an enhanced status code (RFC 3463, "" where the
// protocol carries none: the greeting, EHLO, 334 and 354) and one line of text.
type reply struct {
	code int
	enh  string
	text string
}

func (r *reply) Error() string { return "smtp reply " + r.enh + " " + r.text }

// The replies Sealgate gives, in one place.
var (
	// Policy decisions of the session.
	replyAuthRequired   = &reply{530, "5.7.0", "Authentication required"}
	replyNeedTLS        = &reply{538, "5.7.11", "Encryption required for requested authentication mechanism"}
	replyAuthFailed     = &reply{535, "5.7.8", "Authentication credentials invalid"}
	replyAuthThrottled  = &reply{454, "4.7.0", "Too many failed authentication attempts, try again later"}
	replyAuthIdentity   = &reply{535, "5.7.8", "Authorization identity must be empty or the user name"}
	replyNoAuthHere     = &reply{502, "5.5.1", "AUTH is not available on this port; use the submission port"}
	replyBadSender      = &reply{553, "5.1.7", "Sender address syntax invalid"}
	replySenderNotOwned = &reply{553, "5.7.1", "Sender address not owned by authenticated user"}
	replyNullSender     = &reply{553, "5.7.1", "Null sender not allowed for submission"}
	replyNeedUTF8       = &reply{553, "5.6.7", "Non-ASCII address requires SMTPUTF8"}
	replyBadRcpt        = &reply{501, "5.1.3", "Recipient address syntax invalid"}
	replyUnknownUser    = &reply{550, "5.1.1", "Recipient address rejected: user unknown"}
	replyAliasLoop      = &reply{550, "5.4.6", "Recipient address rejected: alias loop"}
	replyTooManyTargets = &reply{452, "4.5.3", "Too many recipients after alias expansion"}
	replyRelayDenied    = &reply{554, "5.7.1", "Relay access denied"}
	replyTooBig         = &reply{552, "5.3.4", "Message size exceeds fixed limit"}
	replyFromNotOwned   = &reply{550, "5.7.1", "From: header address not owned by authenticated user"}
	replyNoSpace        = &reply{452, "4.3.1", "Insufficient system storage, try again later"}
	replyMailboxFull    = &reply{452, "4.2.2", "Mailbox full, try again later"}
	replyOverQuota      = &reply{552, "5.2.2", "Mailbox full: the message exceeds the recipient's storage quota"}
	replyHeaderTooBig   = &reply{552, "5.3.4", "Message header section too large"}
	replyContentTooBig  = &reply{552, "5.3.4", "Message content exceeds fixed size limit when decoded"}
	replyMIMETooComplex = &reply{550, "5.6.0", "Message MIME structure nested too deep or with too many parts"}
	replyBadHeader      = &reply{550, "5.6.0", "Message header section malformed"}
	replyLoop           = &reply{554, "5.4.6", "Too many hops: mail loop detected"}

	// The protocol engine's own replies.
	replyOK             = &reply{250, "2.0.0", "OK"}
	replyReset          = &reply{250, "2.0.0", "Reset"}
	replyNoop           = &reply{250, "2.0.0", "OK"}
	replyBye            = &reply{221, "2.0.0", "Bye"}
	replyVRFY           = &reply{252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"}
	replyHelp           = &reply{214, "2.0.0", "See RFC 5321"}
	replyStartData      = &reply{354, "", "End data with <CR><LF>.<CR><LF>"}
	replyStartTLS       = &reply{220, "2.0.0", "Ready to start TLS"}
	replyAuthOK         = &reply{235, "2.7.0", "Authentication successful"}
	replyUnknownCommand = &reply{500, "5.5.2", "Command not recognized"}
	replyNotImplemented = &reply{502, "5.5.1", "Command not implemented"}
	replyLineTooLong    = &reply{500, "5.4.0", "Line too long"}
	replyTooManyErrors  = &reply{421, "4.7.0", "Too many errors, closing connection"}
	replyTooManyUnknown = &reply{421, "4.7.0", "Too many unknown recipients, closing connection"}
	replyIdle           = &reply{421, "4.4.2", "Idle timeout, closing connection"}
	replyHeloArg        = &reply{501, "5.5.4", "Domain or address argument required"}
	replyHeloFirst      = &reply{503, "5.5.1", "Send EHLO or HELO first"}
	replyNestedMail     = &reply{503, "5.5.1", "Sender already specified"}
	replyNeedMail       = &reply{503, "5.5.1", "Send MAIL first"}
	replyNeedRcpt       = &reply{503, "5.5.1", "No valid recipients"}
	replyBDATPending    = &reply{503, "5.5.1", "BDAT transfer in progress; finish it with BDAT LAST or RSET"}
	replyMailSyntax     = &reply{501, "5.5.2", "Syntax: MAIL FROM:<address> [parameters]"}
	replyRcptSyntax     = &reply{501, "5.5.2", "Syntax: RCPT TO:<address> [parameters]"}
	replyBadParam       = &reply{555, "5.5.4", "Parameter not recognized or malformed"}
	replyTooManyRcpts   = &reply{452, "4.5.3", "Too many recipients"}
	replyNoArgs         = &reply{501, "5.5.4", "No arguments allowed"}
	replyBDATSyntax     = &reply{501, "5.5.4", "Syntax: BDAT size [LAST]"}
	replyAuthSyntax     = &reply{501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"}
	replyAuthDone       = &reply{503, "5.5.1", "Already authenticated"}
	replyAuthInMail     = &reply{503, "5.5.1", "AUTH not allowed during a mail transaction"}
	replyAuthMechanism  = &reply{504, "5.5.4", "Unrecognized authentication mechanism"}
	replyAuthCancelled  = &reply{501, "5.0.0", "Authentication cancelled"}
	replyAuthBase64     = &reply{501, "5.5.2", "Invalid base64 data"}
	replyAuthMalformed  = &reply{501, "5.5.2", "Malformed authentication response"}
	replyTLSUnavailable = &reply{454, "4.7.0", "TLS not available"}
	replyTLSActive      = &reply{503, "5.5.1", "TLS already active"}
	replyTLSPipelined   = &reply{554, "5.5.0", "Commands sent after STARTTLS before the TLS handshake; closing connection"}
	replyInternal       = &reply{421, "4.3.0", "Internal error, closing connection"}
)

func replyTemporary(ref string) *reply {
	return &reply{451, "4.3.0", "Temporary local problem, try again later (ref " + ref + ")"}
}

func replyQueued(id string) *reply {
	return &reply{250, "2.0.0", "OK: queued as " + id}
}

// dataReply translates the outcome of storing a message into the reply to DATA/BDAT.
func dataReply(log *slog.Logger, id string, err error) *reply {
	var r *reply
	switch {
	case err == nil:
		return replyQueued(id)
	case errors.As(err, &r):
		return r
	case errors.Is(err, msgbuf.ErrTooLarge):
		return replyTooBig
	case errors.Is(err, mailstore.ErrNoSpace), errors.Is(err, syscall.ENOSPC):
		log.Error("disk full: message refused for now", "id", id, "err", err)
		return replyNoSpace
	case errors.Is(err, mailstore.ErrOverQuota):
		return replyOverQuota
	case errors.Is(err, pipeline.ErrSenderNotOwned):
		return replyFromNotOwned
	case errors.Is(err, pipeline.ErrHeaderTooLarge):
		return replyHeaderTooBig
	case errors.Is(err, pipeline.ErrStructureTooComplex):
		log.Info("message refused: MIME structure beyond the bounds", "id", id)
		return replyMIMETooComplex
	case errors.Is(err, pipeline.ErrContentTooLarge):
		log.Info("message refused: decodes beyond the size limit", "id", id)
		return replyContentTooBig
	case errors.Is(err, pipeline.ErrMalformedHeader):
		return replyBadHeader
	case errors.Is(err, pipeline.ErrLoop):
		return replyLoop
	}
	var snd *pipeline.SenderError
	if errors.As(err, &snd) {
		log.Info("message refused: sender not authenticated", "id", id, "reason", snd.Verdict.Reason)
		if snd.Verdict.Action == mailauth.Defer {
			return &reply{451, "4.7.0", snd.Verdict.Reason + ", try again later"}
		}
		return &reply{550, "5.7.1", snd.Verdict.Reason}
	}
	var rej *pipeline.RejectError
	if errors.As(err, &rej) {
		log.Info("message refused by policy", "id", id, "recipients", rej.Recipients, "reason", rej.Reason)
		msg := "Security policy refuses this message for " + strings.Join(rej.Recipients, ", ")
		if rej.Detailed {
			msg += ": " + rej.Reason
		}
		return &reply{550, "5.7.1", msg}
	}
	if errors.Is(err, pipeline.ErrPolicyNotApplied) {
		log.Error("security policy not applied", "id", id, "err", err)
		return &reply{451, "4.7.0", "Security policy could not be applied, try again later (ref " + id + ")"}
	}
	log.Error("message not stored", "id", id, "err", err)
	return replyTemporary(id)
}

// authReply translates an authentication failure.
func authReply(log *slog.Logger, id string, err error) *reply {
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		return replyAuthFailed
	case errors.Is(err, auth.ErrThrottled):
		return replyAuthThrottled
	}
	log.Error("authentication failed with an error", "id", id, "err", err)
	return replyTemporary(id)
}
