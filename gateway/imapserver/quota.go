package imapserver

import (
	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
)

// QUOTA (RFC 9208): an account has one quota root, "", holding every mailbox, with one
// resource, STORAGE (in units of 1024 octets), the store's per-account limit. An account
// without a limit has no quota root. Limits are set with `sealgate user quota`, not SETQUOTA.

// quotaRoot is the name of the account's one quota root.
const quotaRoot = ""

// kib is a size in units of 1024 octets, rounded up.
func kib(n int64) uint64 { return uint64((max(n, 0) + 1023) / 1024) }

// writeQuota writes the QUOTA response of the account's root; ok is false when the account
// has no limit, and so no root.
func (s *session) writeQuota() (ok bool, err error) {
	ctx, cancel := s.ctx()
	defer cancel()
	q, err := s.srv.opts.Store.Quota(ctx, s.user.ID)
	if err != nil || q.Limit <= 0 {
		return false, err
	}
	s.enc.Untagged().Raw("QUOTA ").String(quotaRoot).Raw(" (STORAGE ").Number64(kib(q.Used)).SP().
		Number64(uint64(q.Limit / 1024)).Raw(")").CRLF()
	return true, s.enc.Err()
}

func (s *session) cmdGetQuota(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	root, err := s.dec.ReadAString(imapwire.MaxSmallLiteral)
	if err != nil {
		return err
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	noRoot := &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such quota root"}
	if root != quotaRoot {
		return noRoot
	}
	ok, err := s.writeQuota()
	if err != nil {
		return s.fail(err)
	}
	if !ok {
		return noRoot
	}
	return nil
}

func (s *session) cmdGetQuotaRoot(cmd *command) error {
	name, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	mb, err := s.mailbox(name)
	if err != nil {
		return s.fail(err)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	q, err := s.srv.opts.Store.Quota(ctx, s.user.ID)
	if err != nil {
		return s.fail(err)
	}
	s.enc.Untagged().Raw("QUOTAROOT ").Mailbox(mb.Name)
	if q.Limit <= 0 {
		s.enc.CRLF()
		return nil
	}
	s.enc.SP().String(quotaRoot).CRLF()
	_, err = s.writeQuota()
	return s.fail(err)
}

// quotaCaps are the capabilities QUOTA adds.
const quotaCaps = "QUOTA QUOTA=RES-STORAGE"
