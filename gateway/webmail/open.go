package webmail

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/crypto/smime"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/usermsg"
)

// maxOpenSize bounds the stored encrypted messages web mail decrypts for display, and
// maxPlainSize what decrypting one may yield (OpenPGP data may be compressed): ciphertext and
// plaintext are held in memory while one page is made.
const (
	maxOpenSize  = 32 << 20
	maxPlainSize = 64 << 20
)

// errPlainTooLarge stops a decryption whose output passes maxPlainSize.
var errPlainTooLarge = errors.New("webmail: decrypted message too large")

// cappedBuffer is a buffer that refuses to grow past maxPlainSize. It is only an io.Writer
// (no ReadFrom that a copy could take to bypass the cap).
type cappedBuffer struct {
	buf  bytes.Buffer
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > maxPlainSize {
		b.over = true
		return 0, errPlainTooLarge
	}
	return b.buf.Write(p)
}

// opening says what web mail could do with a message stored encrypted (policy keeps mail
// encrypted at rest): whether the gateway holds a secret key of the user, and whether one of
// them opened the message. The zero value is a message stored in plaintext.
type opening struct {
	Opened   bool // decrypted for display with the user's key; the stored copy stays encrypted
	HeldKey  bool // the gateway holds at least one secret key (OpenPGP or S/MIME) of the user
	TooLarge bool // larger than maxOpenSize: not opened here
}

// parse reads a stored body for display. A body stored encrypted is decrypted in memory with
// the secret keys the gateway holds for user — never another user's, and the plaintext is
// neither stored nor cached — so web mail shows what a mail client holding the key would.
func (s *Server) parse(ctx context.Context, user mailstore.User, bodyID int64) (*usermsg.Message, opening, error) {
	rc, size, err := s.opts.Store.OpenBody(ctx, bodyID)
	if err != nil {
		return nil, opening{}, err
	}
	defer rc.Close()
	var raw bytes.Buffer
	if size <= maxOpenSize {
		rc = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(rc, &raw), rc}
	}
	m, err := s.parseBody(rc, bodyID)
	if m == nil || !m.Encrypted {
		return m, opening{}, err
	}
	if size <= maxOpenSize {
		if _, err := io.Copy(io.Discard, rc); err != nil { // the rest of the ciphertext
			return m, opening{}, err
		}
	}
	op := s.open(ctx, user, raw.Bytes(), size)
	if op.plain == nil {
		return m, op.opening, nil
	}
	pm, err := s.parseBody(io.NopCloser(bytes.NewReader(op.plain)), bodyID)
	if pm == nil {
		return m, opening{HeldKey: true}, err
	}
	return pm, op.opening, nil
}

func (s *Server) parseBody(r io.Reader, bodyID int64) (*usermsg.Message, error) {
	m, err := usermsg.Parse(r)
	if m == nil {
		return nil, err
	}
	if err != nil { // a damaged part: show what could be read
		s.log.Info("webmail: message partly unreadable", "body", bodyID, "err", err)
	}
	return m, nil
}

type opened struct {
	opening
	plain []byte
}

// open decrypts ciphertext (a whole stored message) with user's secret keys.
func (s *Server) open(ctx context.Context, user mailstore.User, ciphertext []byte, size int64) opened {
	kr := s.opts.Keys
	ring, err := kr.DecryptionKeysPGP(ctx, user.Address)
	if err != nil {
		s.log.Info("webmail: no decryption keys", "err", err)
	}
	cks, err := kr.DecryptionCerts(ctx, user.Address)
	if err != nil {
		s.log.Info("webmail: no decryption certificates", "err", err)
	}
	op := opened{opening: opening{HeldKey: len(ring) > 0 || len(cks) > 0}}
	if !op.HeldKey {
		return op
	}
	if size > maxOpenSize {
		op.TooLarge = true
		return op
	}
	var out cappedBuffer
	if len(ring) > 0 {
		_, err := pgpmime.Decrypt(&out, bytes.NewReader(ciphertext), ring, pgpmime.DecryptOptions{MaxPlaintext: maxPlainSize})
		if err == nil {
			op.Opened, op.plain = true, out.buf.Bytes()
			return op
		}
		if errors.Is(err, pgpmime.ErrPlaintextTooLarge) {
			op.TooLarge = true
			return op
		}
	}
	for _, ck := range cks {
		out.buf.Reset()
		if _, err := smime.Decrypt(&out, bytes.NewReader(ciphertext), ck.Cert, ck.Key, smime.DecryptOptions{}); err == nil {
			op.Opened, op.plain = true, out.buf.Bytes()
			return op
		}
	}
	op.TooLarge = out.over
	return op
}
