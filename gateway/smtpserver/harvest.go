package smtpserver

import "time"

// unknownRecipient answers an unknown local recipient. A session that tries many is
// harvesting addresses: past half of MaxUnknownRecipients each answer waits a growing delay,
// and one more than MaxUnknownRecipients ends the session. The count spans the session, not
// the transaction, so RSET does not clear it.
func (c *conn) unknownRecipient() *reply {
	o := &c.srv.opts
	c.unknown++
	if c.unknown > o.MaxUnknownRecipients {
		c.srv.log.Info("too many unknown recipients, closing", "conn", c.sess.connID, "client", c.sess.remoteIP)
		c.srv.metrics.rejected("421")
		c.quit = true
		return replyTooManyUnknown
	}
	if free := o.MaxUnknownRecipients / 2; c.unknown > free {
		c.flush() // earlier replies go out before the wait
		t := time.NewTimer(o.UnknownRecipientDelay << min(c.unknown-free-1, 3))
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.srv.workers.stop: // shutting down: answer at once
		}
	}
	return replyUnknownUser
}
