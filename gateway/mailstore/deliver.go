package mailstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sealgate/sealgate/crypto/fsutil"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// Body is the content of one stored copy of a message.
type Body interface {
	Size() int64
	// NewReader reads the content from the start; it may be called more than once.
	NewReader() io.Reader
}

// Target is a mailbox that receives a copy.
type Target struct {
	UserID int64
	// Mailbox is the mailbox name; "" or a name the user does not have means INBOX.
	Mailbox string
}

// Outbound is a spool entry for remote recipients of one copy.
type Outbound struct {
	Sender     string // envelope sender; "" for a bounce
	Recipients []string
}

// Copy is one transformed form of a message and where it goes.
type Copy struct {
	Body     Body
	Local    []Target
	Outbound *Outbound
}

// Delivery is one message as accepted over SMTP: every copy is stored, or none.
type Delivery struct {
	Copies       []Copy
	InternalDate time.Time // zero means now
	EnvelopeID   string    // the SMTP transaction id, kept with spool entries for logs
}

// Delivered says what a committed Delivery added.
type Delivered struct {
	Messages []Appended
	QueueIDs []int64
}

// Appended identifies a message added to a mailbox.
type Appended struct {
	UserID    int64
	MailboxID int64
	UID       uint32
}

// The statements of the delivery path, prepared once for the writer (see stmtCache).
const (
	sqlInsertBody = `INSERT INTO bodies(size, header_size, data, path, refs) VALUES (?, ?, ?, ?, ?)`
	sqlNextUID    = `UPDATE mailboxes SET uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
		WHERE user_id = ? AND name = ? RETURNING id, uidnext - 1, highest_modseq`
	sqlInsertMessage   = `INSERT INTO messages(mailbox_id, uid, body_id, internal_date, size, modseq) VALUES (?, ?, ?, ?, ?, ?)`
	sqlInsertQueue     = `INSERT INTO queue(sender, body_id, created, next_attempt, env_id) VALUES (?, ?, ?, ?, ?)`
	sqlInsertQueueRcpt = `INSERT INTO queue_rcpts(queue_id, rcpt, updated) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`
)

var writerStatements = []string{`SAVEPOINT w`, `ROLLBACK TO w`, `RELEASE w`,
	sqlInsertBody, sqlNextUID, sqlInsertMessage, sqlInsertQueue, sqlInsertQueueRcpt, sqlQuotaOf}

// Deliver stores every copy of d atomically and durably; see the package doc.
func (s *Store) Deliver(ctx context.Context, d Delivery) (Delivered, error) {
	if d.InternalDate.IsZero() {
		d.InternalDate = s.opts.Now()
	}
	type prepared struct {
		data       []byte
		path       string
		size       int64
		headerSize int64
	}
	preps := make([]prepared, len(d.Copies))
	var files []string
	cleanup := func() {
		for _, f := range files {
			removeFile(s.dir, f)
		}
	}
	for i, c := range d.Copies {
		if len(c.Local) == 0 && (c.Outbound == nil || len(c.Outbound.Recipients) == 0) {
			return Delivered{}, fmt.Errorf("mailstore: copy %d has no recipient", i)
		}
		p := &preps[i]
		p.size = c.Body.Size()
		if p.size <= InlineLimit {
			data, err := ReadBody(c.Body)
			if err != nil {
				return Delivered{}, err
			}
			p.data, p.headerSize = data, HeaderSize(data)
			continue
		}
		path, hs, err := s.writeBlob(c.Body)
		if err != nil {
			cleanup()
			return Delivered{}, noSpace(err)
		}
		files = append(files, path)
		p.path, p.headerSize = path, hs
	}

	var out Delivered
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = Delivered{}
		var users []int64
		for i, c := range d.Copies {
			p := preps[i]
			refs := len(c.Local)
			if c.Outbound != nil {
				refs++
			}
			var pathArg any
			if p.path != "" {
				pathArg = p.path
			}
			res, err := s.wstmts.exec(tx, sqlInsertBody,
				p.size, p.headerSize, p.data, pathArg, refs)
			if err != nil {
				return err
			}
			bodyID, _ := res.LastInsertId()
			for _, t := range c.Local {
				a, err := s.appendTx(tx, t, bodyID, p.size, d.InternalDate)
				if err != nil {
					return err
				}
				out.Messages = append(out.Messages, a)
				users = append(users, t.UserID)
			}
			if c.Outbound != nil {
				id, err := s.enqueueTx(tx, c.Outbound, bodyID, d.EnvelopeID, s.opts.Now())
				if err != nil {
					return err
				}
				out.QueueIDs = append(out.QueueIDs, id)
			}
		}
		return s.overQuotaTx(tx, users)
	})
	if err != nil {
		cleanup()
		return Delivered{}, err
	}
	if s.opts.OnCommit != nil {
		s.opts.OnCommit(out)
	}
	return out, nil
}

func (s *Store) appendTx(tx *sql.Tx, t Target, bodyID, size int64, date time.Time) (Appended, error) {
	name := t.Mailbox
	if name == "" {
		name = "INBOX"
	}
	var mboxID int64
	var uid uint32
	var modseq int64
	err := s.wstmts.queryRow(tx, sqlNextUID, t.UserID, name).Scan(&mboxID, &uid, &modseq)
	if errors.Is(err, sql.ErrNoRows) && name != "INBOX" {
		return s.appendTx(tx, Target{UserID: t.UserID}, bodyID, size, date)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Appended{}, fmt.Errorf("mailstore: user %d has no INBOX: %w", t.UserID, ErrNotFound)
	}
	if err != nil {
		return Appended{}, err
	}
	_, err = s.wstmts.exec(tx, sqlInsertMessage,
		mboxID, uid, bodyID, date.UnixMilli(), size, modseq)
	return Appended{UserID: t.UserID, MailboxID: mboxID, UID: uid}, err
}

// ReadBody returns the whole content of b, without a copy when b can hand out its bytes
// (a Bytes() ([]byte, bool) method).
func ReadBody(b Body) ([]byte, error) {
	if bb, ok := b.(interface{ Bytes() ([]byte, bool) }); ok {
		if data, ok := bb.Bytes(); ok {
			return data, nil
		}
	}
	buf := bytes.NewBuffer(make([]byte, 0, b.Size()))
	_, err := buf.ReadFrom(b.NewReader())
	return buf.Bytes(), err
}

// HeaderSize is the length of the header section including the blank line that ends it; the
// whole length when there is none (mimeutil.HeaderEnd: the first empty line, CRLF or LF).
func HeaderSize(data []byte) int64 { return int64(mimeutil.HeaderEnd(data)) }

// writeBlob stores a large body as a file: temp file, fsync, rename, directory fsync. It
// returns the path relative to the store directory.
func (s *Store) writeBlob(b Body) (string, int64, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", 0, err
	}
	name := hex.EncodeToString(rnd[:])
	rel := filepath.Join("blobs", name[:2], name)
	dir := filepath.Join(s.dir, "blobs", name[:2])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", 0, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	hw := &mimeutil.HeaderWatcher{}
	_, err = io.Copy(f, io.TeeReader(b.NewReader(), hw))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, rel))
	}
	if err == nil {
		err = fsutil.SyncPath(dir)
	}
	if err != nil {
		return "", 0, fmt.Errorf("mailstore: write body: %w", err)
	}
	return rel, hw.Size(), nil
}

// HeaderWatcher finds the end of the header section in a stream written to it, the way
// HeaderSize does on whole content.
//
//go:fix inline
type HeaderWatcher = mimeutil.HeaderWatcher

func removeFile(dir, rel string) error {
	err := os.Remove(filepath.Join(dir, rel))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
