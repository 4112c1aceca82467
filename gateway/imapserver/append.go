package imapserver

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// APPEND takes one message or, with MULTIAPPEND (RFC 3502), several: they are read in full,
// then stored in one store transaction, all of them or none (over quota, none).

const (
	// maxAppendMessages bounds the messages of one APPEND.
	maxAppendMessages = 1000
	// appendMemory is how many bytes of one APPEND's messages are held in memory; the rest
	// go to one spool file, so memory stays bounded whatever the client sends.
	appendMemory = mailstore.InlineLimit
	// appendTotalFactor bounds all the messages of one APPEND together, in multiples of the
	// message size limit: the spool file cannot grow without end.
	appendTotalFactor = 10
)

// appendBatch is an APPEND's messages read so far.
type appendBatch struct {
	s     *session
	mb    *mailstore.Mailbox // looked up at the first literal's header, before its bytes
	reqs  []mailstore.AppendRequest
	kw    []string // every keyword of the batch, checked against the mailbox's room
	mem   int64
	total int64
	spool *os.File
	off   int64
}

// cmdAppend runs APPEND: mailbox, then one or more messages, each (flags) "date" literal.
func (s *session) cmdAppend(cmd *command) error {
	name, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	b := &appendBatch{s: s}
	defer b.close()
	if err := s.args(); err != nil {
		return err
	}
	for {
		if len(b.reqs) == maxAppendMessages {
			return &imapwire.CommandError{Msg: "too many messages in one APPEND", TooBig: true}
		}
		if err := b.readMessage(name); err != nil {
			return err
		}
		if more, err := s.dec.Accept(' '); err != nil {
			return err
		} else if !more {
			break
		}
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	uv, uids, err := s.srv.opts.Store.AppendAll(ctx, b.reqs)
	if err != nil {
		return s.fail(err)
	}
	s.changed()
	s.srv.opts.Index.Added(b.mb.ID)
	var set imap.UIDSet
	for _, uid := range uids {
		set.AddNum(imap.UID(uid))
	}
	cmd.okCode = "APPENDUID " + uitoa(uint64(uv)) + " " + set.String()
	cmd.okText = "APPEND completed"
	return nil
}

// readMessage reads one message: flags and date if given, then the literal. The mailbox and
// keywords are checked before the literal is taken, so a refused synchronizing literal is
// never sent.
func (b *appendBatch) readMessage(name string) error {
	s := b.s
	var opts imap.AppendOptions
	if c, err := s.dec.Peek(); err != nil {
		return err
	} else if c == '(' {
		if opts.Flags, err = s.dec.ReadFlagList(); err != nil {
			return err
		}
		for _, f := range opts.Flags {
			if f == `\*` || strings.EqualFold(string(f), `\Recent`) {
				return &imapwire.CommandError{Msg: string(f) + " cannot be appended"}
			}
		}
		if err := s.args(); err != nil {
			return err
		}
	}
	if c, err := s.dec.Peek(); err != nil {
		return err
	} else if c == '"' {
		if opts.Time, err = s.dec.ReadDateTime(); err != nil {
			return err
		}
		if err := s.args(); err != nil {
			return err
		}
	}
	flags, kw := storeFlags(opts.Flags)
	var body mailstore.Body
	if c, err := s.dec.Peek(); err != nil {
		return err
	} else if c != '{' && c != '~' {
		if word, err := s.dec.ReadAtom(); err != nil {
			return err
		} else if !strings.EqualFold(word, "CATENATE") {
			return &imapwire.CommandError{Msg: "expected a literal or CATENATE"}
		}
		r, size, err := b.readCatenate(name)
		if err != nil {
			return err
		}
		if err := b.lookup(name); err != nil { // CATENATE () has no part that looked it up
			return err
		}
		if b.total+size > appendTotalFactor*s.srv.opts.MaxMessageSize {
			return &imapwire.CommandError{Msg: "APPEND over the size limit", TooBig: true}
		}
		if err := b.checkKeywords(kw); err != nil {
			return err
		}
		if body, err = b.take(r, size); err != nil {
			return err
		}
	} else {
		lit, err := s.dec.ReadLiteralHeader()
		if err != nil {
			return err
		}
		if err := b.lookup(name); err != nil {
			return err
		}
		if err := b.checkKeywords(kw); err != nil {
			return err
		}
		limit := s.srv.opts.MaxMessageSize
		if left := appendTotalFactor*s.srv.opts.MaxMessageSize - b.total; left < limit {
			limit = left
		}
		r, err := s.dec.AcceptLiteral(lit, limit)
		if err != nil {
			return err
		}
		if body, err = b.take(r, lit.Size); err != nil {
			return err
		}
	}
	b.reqs = append(b.reqs, mailstore.AppendRequest{
		UserID: s.user.ID, MailboxID: b.mb.ID, Body: storedForm(body), Flags: flags, Keywords: kw, InternalDate: opts.Time,
	})
	return nil
}

// lookup finds the APPEND's mailbox, once: at the first literal's header (before its bytes)
// or CATENATE part.
func (b *appendBatch) lookup(name string) error {
	if b.mb != nil {
		return nil
	}
	mb, err := b.s.mailbox(name)
	if err == mailstore.ErrNotFound {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	if err != nil {
		return b.s.fail(err)
	}
	b.mb = &mb
	return nil
}

// checkKeywords refuses keywords that would take the mailbox past its keyword limit, counting
// those of the batch's earlier messages.
func (b *appendBatch) checkKeywords(kw []string) error {
	if len(kw) == 0 {
		return nil
	}
	b.kw = append(b.kw, kw...)
	return b.s.checkAppendKeywords(b.mb.ID, b.kw)
}

// take reads a literal's size bytes: into memory while the batch's memory allows, else onto
// the spool file.
func (b *appendBatch) take(r io.Reader, size int64) (mailstore.Body, error) {
	b.total += size
	if b.mem+size <= appendMemory {
		b.mem += size
		data := make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, err
		}
		return memBody(data), nil
	}
	if b.spool == nil {
		f, err := os.CreateTemp(b.s.srv.opts.SpoolDir, ".append-*")
		if err != nil {
			return nil, b.s.fail(err)
		}
		os.Remove(f.Name()) // unlinked at once: nothing is left behind on a crash
		b.spool = f
	}
	if n, err := io.Copy(io.NewOffsetWriter(b.spool, b.off), r); err != nil || n != size {
		return nil, errors.Join(err, io.ErrUnexpectedEOF)
	}
	body := fileBody{f: b.spool, off: b.off, size: size}
	b.off += size
	return body, nil
}

func (b *appendBatch) close() {
	if b.spool != nil {
		b.spool.Close()
	}
}

type memBody []byte

func (b memBody) Size() int64           { return int64(len(b)) }
func (b memBody) NewReader() io.Reader  { return bytes.NewReader(b) }
func (b memBody) Bytes() ([]byte, bool) { return b, true }

// fileBody is a message on an APPEND's spool file.
type fileBody struct {
	f         *os.File
	off, size int64
}

func (b fileBody) Size() int64          { return b.size }
func (b fileBody) NewReader() io.Reader { return io.NewSectionReader(b.f, b.off, b.size) }
