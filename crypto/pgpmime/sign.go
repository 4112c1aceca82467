package pgpmime

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/internal/hdrprot"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// SignOptions configures Sign.
type SignOptions struct {
	// Signer makes the signature; its secret key must be unlocked. Required.
	Signer *Key
	// ProtectedHeaders puts the protected header (crypto/internal/hdrprot)
	// into the signed part, for a message that is encrypted next (S/MIME, or
	// Encrypt with ProtectedHeaders): RFC 9788 wants it on the innermost
	// entity, under the signature.
	ProtectedHeaders bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Sign reads an RFC 5322 message and writes it as PGP/MIME multipart/signed
// (RFC 3156 §5). The Content-* fields and body become the signed part,
// written in canonical CRLF form exactly as they were hashed; the other
// header fields stay outside. It streams: the detached signature is
// computed while the signed part is written.
func Sign(dst io.Writer, msg io.Reader, opts SignOptions) error {
	if opts.Signer == nil {
		return fmt.Errorf("%w: no signer", ErrBadKey)
	}
	cfg := packetConfig(opts.Now)
	if err := checkSigner(opts.Signer, cfg); err != nil {
		return err
	}
	hash := signingHash(opts.Signer, cfg)
	cfg.DefaultHash = hash
	br := mimeutil.GetReader(msg)
	defer mimeutil.PutReader(br)
	h, _, _, err := readTopHeader(br)
	if err != nil {
		return err
	}
	boundary := newBoundary()
	out := mimeutil.GetWriter(dst, false)
	defer mimeutil.PutWriter(out)
	cw := &mimeutil.CRLFWriter{W: out}
	for _, f := range h.Fields {
		if !mimeutil.IsContent(f.Name) {
			cw.Write(f.Raw)
		}
	}
	fmt.Fprintf(out, "MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=%s;\r\n protocol=\"application/pgp-signature\";\r\n boundary=\"%s\"\r\n\r\n", micalg(hash), boundary)
	fmt.Fprintf(out, "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n--%s\r\n", boundary)

	var sig bytes.Buffer
	sw, err := openpgp.DetachSignWriter(&sig, []*openpgp.Entity{opts.Signer.entity}, &openpgp.SignParams{Config: cfg})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	// Both the output and the signature see the same canonical bytes.
	if err := hdrprot.WritePayload(io.MultiWriter(out, sw), h, opts.ProtectedHeaders, br); err != nil {
		return err
	}
	if err := sw.Close(); err != nil {
		return err
	}
	if p, err := packet.Read(bytes.NewReader(sig.Bytes())); err == nil {
		if s, ok := p.(*packet.Signature); ok && s.Hash != hash {
			return fmt.Errorf("pgpmime: signature hash %v differs from micalg %v", s.Hash, hash)
		}
	}
	fmt.Fprintf(out, "\r\n--%s\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\nContent-Description: OpenPGP digital signature\r\nContent-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n", boundary)
	aw, err := armor.Encode(&mimeutil.CRLFWriter{W: out}, "PGP SIGNATURE", nil)
	if err != nil {
		return err
	}
	aw.Write(sig.Bytes())
	if err := aw.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\r\n\r\n--%s--\r\n", boundary)
	return out.Flush()
}

// signingHash picks SHA-256 unless the key's preferences exclude it.
func signingHash(k *Key, cfg *packet.Config) crypto.Hash {
	sk, ok := k.entity.SigningKey(cfg.Now(), nil)
	if !ok || sk.PrimarySelfSignature == nil || len(sk.PrimarySelfSignature.PreferredHash) == 0 {
		return crypto.SHA256
	}
	ids := map[uint8]crypto.Hash{8: crypto.SHA256, 9: crypto.SHA384, 10: crypto.SHA512, 11: crypto.SHA224, 12: crypto.SHA3_256, 14: crypto.SHA3_512}
	for _, id := range sk.PrimarySelfSignature.PreferredHash {
		if id == 8 {
			return crypto.SHA256
		}
	}
	for _, id := range sk.PrimarySelfSignature.PreferredHash {
		if h, ok := ids[id]; ok && h.Available() {
			return h
		}
	}
	return crypto.SHA256
}

func micalg(h crypto.Hash) string {
	s := strings.ToLower(strings.ReplaceAll(h.String(), "-", ""))
	return "pgp-" + s
}
