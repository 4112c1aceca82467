package imapserver

import (
	"bytes"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// CATENATE (RFC 4469): an APPENDed message made of TEXT literals and URL parts, each URL an
// IMAP URL (RFC 5092) of a message or section in one of the user's own mailboxes. The parts
// are joined in memory, within the message size limit; a URL that names nothing refuses the
// whole APPEND with NO [BADURL].

// readCatenate reads "CATENATE (part ...)" after its name and returns the message it makes.
func (b *appendBatch) readCatenate(name string) (io.Reader, int64, error) {
	s := b.s
	if err := s.args(); err != nil {
		return nil, 0, err
	}
	var parts [][]byte
	var size int64
	err := s.dec.ReadList(func() error {
		kind, err := s.dec.ReadAtom()
		if err != nil {
			return err
		}
		if err := s.args(); err != nil {
			return err
		}
		var part []byte
		switch strings.ToUpper(kind) {
		case "TEXT":
			lit, err := s.dec.ReadLiteralHeader()
			if err != nil {
				return err
			}
			if err := b.lookup(name); err != nil {
				return err
			}
			r, err := s.dec.AcceptLiteral(lit, s.srv.opts.MaxMessageSize-size)
			if err != nil {
				return err
			}
			part = make([]byte, lit.Size)
			if _, err := io.ReadFull(r, part); err != nil {
				return err
			}
		case "URL":
			u, err := s.dec.ReadAString(imapwire.MaxSmallLiteral)
			if err != nil {
				return err
			}
			if err := b.lookup(name); err != nil {
				return err
			}
			if part, err = s.urlPart(u, s.srv.opts.MaxMessageSize-size); err != nil {
				return err
			}
		default:
			return &imapwire.CommandError{Msg: "unknown CATENATE part " + kind}
		}
		parts = append(parts, part)
		size += int64(len(part))
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return bytes.NewReader(bytes.Join(parts, nil)), size, nil
}

// badURL refuses a CATENATE URL part (RFC 4469 §5).
func badURL(u string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCode("BADURL " + u), Text: "URL names no message or section"}
}

// urlPart returns what an IMAP URL of the user's own mail names: a whole message, or a
// section, cut to its PARTIAL range. At most max bytes.
func (s *session) urlPart(u string, max int64) ([]byte, error) {
	ref, ok := parseIMAPURL(u)
	if !ok || strings.ContainsAny(ref.mailbox, "\r\n\"") {
		return nil, badURL(u)
	}
	mb, err := s.mailbox(ref.mailbox)
	if err == mailstore.ErrNotFound || err == nil && ref.uidValidity != 0 && ref.uidValidity != mb.UIDValidity {
		return nil, badURL(u)
	}
	if err != nil {
		return nil, s.fail(err)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	msgs, err := s.srv.opts.Store.MessagesInRange(ctx, mb.ID, ref.uid, ref.uid)
	if err != nil {
		return nil, s.fail(err)
	}
	if len(msgs) != 1 {
		return nil, badURL(u)
	}
	if msgs[0].Size > max {
		return nil, &imapwire.CommandError{Msg: "catenated message over the size limit", TooBig: true}
	}
	rc, _, err := s.srv.opts.Store.OpenBody(ctx, msgs[0].BodyID)
	if err != nil {
		return nil, s.fail(err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, msgs[0].Size))
	rc.Close()
	if err != nil {
		return nil, s.fail(err)
	}
	if ref.section != "" {
		d := imapwire.NewDecoder(strings.NewReader("BODY.PEEK["+ref.section+"]\r\n"), imapwire.Options{})
		f, err := d.ReadFetch()
		if err != nil || len(f.Options.BodySection) != 1 {
			return nil, badURL(u)
		}
		var ok bool
		data, ok, err = sectionBytes(mimeutil.Scan(bytes.NewReader(data)), bytes.NewReader(data), f.Options.BodySection[0])
		if err != nil {
			return nil, s.fail(err)
		}
		if !ok {
			return nil, badURL(u)
		}
	}
	if ref.partial {
		from := min(ref.offset, int64(len(data)))
		end := int64(len(data))
		if ref.length < end-from {
			end = from + ref.length
		}
		data = data[from:end]
	}
	return data, nil
}

// imapURL is what an IMAP URL (RFC 5092) of a message names.
type imapURL struct {
	mailbox        string
	uidValidity    uint32
	uid            uint32
	section        string
	partial        bool
	offset, length int64
}

// parseIMAPURL reads "imap://authority/mailbox;UIDVALIDITY=v/;UID=n/;SECTION=s/;PARTIAL=o.l"
// or its absolute path (from "/"); UIDVALIDITY, SECTION and PARTIAL are optional.
func parseIMAPURL(u string) (imapURL, bool) {
	var ref imapURL
	if rest, ok := cutPrefixFold(u, "imap://"); ok {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return ref, false
		}
		u = rest[i:]
	}
	if !strings.HasPrefix(u, "/") {
		return ref, false
	}
	segs := strings.Split(u[1:], "/;")
	box := segs[0]
	if i := strings.Index(strings.ToLower(box), ";uidvalidity="); i >= 0 {
		v, err := strconv.ParseUint(box[i+len(";uidvalidity="):], 10, 32)
		if err != nil || v == 0 {
			return ref, false
		}
		ref.uidValidity, box = uint32(v), box[:i]
	}
	name, err := url.PathUnescape(box)
	if err != nil || name == "" {
		return ref, false
	}
	ref.mailbox = name
	for _, seg := range segs[1:] {
		key, val, ok := strings.Cut(seg, "=")
		if !ok {
			return ref, false
		}
		val, err := url.PathUnescape(val)
		if err != nil {
			return ref, false
		}
		switch strings.ToLower(key) {
		case "uid":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil || n == 0 || ref.uid != 0 {
				return ref, false
			}
			ref.uid = uint32(n)
		case "section":
			ref.section = val
		case "partial":
			o, l, _ := strings.Cut(val, ".")
			off, err1 := strconv.ParseInt(o, 10, 64)
			n, err2 := strconv.ParseInt(l, 10, 64)
			if err1 != nil || off < 0 || l != "" && (err2 != nil || n <= 0) {
				return ref, false
			}
			if l == "" {
				n = 1<<63 - 1 // to the end
			}
			ref.partial, ref.offset, ref.length = true, off, n
		default:
			return ref, false
		}
	}
	return ref, ref.uid != 0
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
