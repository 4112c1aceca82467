package pgpmime

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/internal/hdrprot"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// EncryptOptions configures Encrypt.
type EncryptOptions struct {
	// Recipients receive the message; each needs a valid encryption
	// (sub)key at Now. Required.
	Recipients KeyRing
	// Signer, when set, signs inside the encrypted message (RFC 3156 §6.2).
	// Its secret key must be unlocked.
	Signer *Key
	// ProtectedHeaders protects the header (RFC 9788 with the legacy
	// protected-headers="v1" marker, see crypto/internal/hdrprot): the
	// user-facing fields are copied into the encrypted part and the outer
	// Subject becomes "...".
	ProtectedHeaders bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Encrypt reads an RFC 5322 message from msg and writes it to dst as a
// PGP/MIME multipart/encrypted message. Header fields other than the
// Content-* fields stay outside, byte for byte (line endings become CRLF);
// the Content-* fields and the body are encrypted as the inner entity.
func Encrypt(dst io.Writer, msg io.Reader, opts EncryptOptions) error {
	if len(opts.Recipients) == 0 {
		return ErrNoRecipients
	}
	cfg := packetConfig(opts.Now)
	to := opts.Recipients.entities()
	encKeys := make([]*packet.PublicKey, len(to))
	for i, e := range to {
		k, err := e.EncryptionKeyWithError(cfg.Now(), cfg)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadKey, (&Key{entity: e}).Fingerprint(), err)
		}
		encKeys[i] = k.PublicKey
	}
	var signers []*openpgp.Entity
	if opts.Signer != nil {
		signers = []*openpgp.Entity{opts.Signer.entity}
		if err := checkSigner(opts.Signer, cfg); err != nil {
			return err
		}
	}
	br := mimeutil.GetReader(msg)
	defer mimeutil.PutReader(br)
	h, _, _, err := readTopHeader(br)
	if err != nil {
		return err
	}
	protectInside := opts.ProtectedHeaders
	if mt, _ := h.ContentType(); protectInside && mt == "multipart/signed" {
		// A message signed with protection has its protected header under the signature.
		prefix, err := br.Peek(br.Size())
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return err
		}
		protectInside = !hdrprot.SignedPartMarked(h, prefix)
	}
	boundary := newBoundary()
	out := mimeutil.GetWriter(dst, false)
	defer mimeutil.PutWriter(out)
	cw := &mimeutil.CRLFWriter{W: out}

	hdrprot.WriteOuter(cw, h, opts.ProtectedHeaders)
	fmt.Fprintf(out, "MIME-Version: 1.0\r\nContent-Type: multipart/encrypted;\r\n protocol=\"application/pgp-encrypted\";\r\n boundary=\"%s\"\r\n\r\n", boundary)
	fmt.Fprintf(out, "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n--%s\r\n", boundary)
	fmt.Fprintf(out, "Content-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n--%s\r\n", boundary)
	fmt.Fprintf(out, "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\nContent-Description: OpenPGP encrypted message\r\nContent-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n")

	aw, err := newArmorWriter(out, "PGP MESSAGE")
	if err != nil {
		return err
	}
	var pt io.WriteCloser
	if c, ok := seipdCipher(to, encKeys, cfg); ok && signers == nil {
		pt, err = encryptData(aw, encKeys, c, cfg)
	} else {
		pt, err = openpgp.EncryptWithParams(aw, to, nil, &openpgp.EncryptParams{
			Signers: signers,
			Hints:   &openpgp.FileHints{},
			Config:  cfg,
		})
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	if err := hdrprot.WritePayload(pt, h, protectInside, br); err != nil {
		return err
	}
	if err := pt.Close(); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\r\n\r\n--%s--\r\n", boundary)
	return out.Flush()
}

func newBoundary() string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "sg-" + hex.EncodeToString(b[:])
}

func checkSigner(k *Key, cfg interface{ Now() time.Time }) error {
	if k.entity.PrivateKey == nil {
		return fmt.Errorf("%w: signer has no secret key", ErrBadKey)
	}
	sk, ok := k.entity.SigningKey(cfg.Now(), nil)
	if !ok {
		return fmt.Errorf("%w: signer has no valid signing key", ErrBadKey)
	}
	if sk.PrivateKey == nil {
		return fmt.Errorf("%w: signing subkey has no secret", ErrBadKey)
	}
	if sk.PrivateKey.Encrypted {
		return ErrKeyLocked
	}
	return nil
}
