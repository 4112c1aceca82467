package pgpmime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/internal/hdrprot"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// MaxBufferedSize caps the forms that must be held in memory: Verify of
// multipart/signed and inline signatures, inline PGP, and PGP/MIME that is
// not the top-level entity (Exchange-mangled, wrapped in multipart/signed).
const MaxBufferedSize = 64 << 20

// Format names the OpenPGP form that was found.
type Format int

const (
	FormatNone     Format = iota
	FormatPGPMIME         // RFC 3156 multipart/encrypted or multipart/signed
	FormatInline          // armored block(s) in a text part
	FormatRepaired        // PGP/MIME mangled by a server (Exchange, Google), repaired
)

func (f Format) String() string {
	return [...]string{"none", "pgp/mime", "inline", "pgp/mime-repaired"}[f]
}

// DecryptOptions configures Decrypt.
type DecryptOptions struct {
	// VerifyKeys are public keys for checking a signature inside the
	// encrypted message, in addition to the decryption key ring.
	VerifyKeys KeyRing
	// Passphrase, when set, decrypts symmetrically encrypted messages
	// (SKESK, e.g. Delta Chat broadcast channels).
	Passphrase []byte
	// Now is the clock for key validity; nil means time.Now.
	Now func() time.Time
	// MaxPlaintext bounds the plaintext that decryption and decompression of the message
	// may produce, all blocks and compression layers together; beyond it Decrypt stops with
	// ErrPlaintextTooLarge. Zero means DefaultMaxPlaintext.
	MaxPlaintext int64
}

// Result describes a decryption.
type Result struct {
	Format Format
	// Encrypted is true when the message was encrypted (it always is when
	// Decrypt returns no error, except for signed-only inline messages).
	Encrypted bool
	// Recipients lists the key ids the message was encrypted to.
	Recipients []string
	// DecryptedWith is the fingerprint of the primary key whose (sub)key
	// decrypted the message; DecryptionKeyID the id of that (sub)key.
	DecryptedWith   string
	DecryptionKeyID string
	// ProtectedSubject is the Subject restored from protected headers
	// (RFC 9788 or protected-headers="v1").
	ProtectedSubject string
	// Signature is the result for a signature inside the OpenPGP message
	// (sign-and-encrypt in one message). A multipart/signed inside the
	// decrypted entity is not checked here: call Verify on the output.
	Signature SignatureResult
	// OuterSignatureIgnored: the encrypted part was wrapped in a
	// multipart/signed whose signature was not checked (an outer signature
	// around encryption says nothing about the content).
	OuterSignatureIgnored bool
	// Partial: only some parts of the message were encrypted (inline).
	Partial bool
}

// Decrypt reads a message and writes its decrypted form to dst: the
// outer header fields (Content-* excepted) merged with the protected
// header fields found inside (crypto/internal/hdrprot: the inner fields
// win, From excepted, none is written twice), then the decrypted entity's
// body as it was inside the ciphertext (less a legacy display element).
// keys provides the secret keys and the public keys for the signature
// check. Errors: ErrNotEncrypted, ErrNoKey, ErrMalformed,
// ErrIntegrity, ErrTooLarge (ErrPlaintextTooLarge for a plaintext beyond
// opts.MaxPlaintext). Output written before an error must be
// discarded.
func Decrypt(dst io.Writer, msg io.Reader, keys KeyRing, opts DecryptOptions) (Result, error) {
	br := mimeutil.GetReader(msg)
	defer mimeutil.PutReader(br)
	h, rawHeader, sep, err := readTopHeader(br)
	if err != nil {
		return Result{}, err
	}
	mt, params := h.ContentType()
	if mt == "multipart/encrypted" && strings.EqualFold(params["protocol"], "application/pgp-encrypted") {
		// Streaming path.
		mr := multipart.NewReader(br, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return Result{}, fmt.Errorf("%w: no encrypted part: %v", ErrMalformed, err)
			}
			pt, _, _ := strings.Cut(strings.ToLower(p.Header.Get("Content-Type")), ";")
			if strings.TrimSpace(pt) == "application/octet-stream" {
				payload := mimeutil.DecodeBody(p, p.Header.Get("Content-Transfer-Encoding"))
				res, err := decryptPayload(dst, h, payload, keys, opts)
				res.Format = FormatPGPMIME
				return res, err
			}
		}
	}
	// Buffered forms.
	rest, err := io.ReadAll(io.LimitReader(br, MaxBufferedSize+1))
	if err != nil {
		return Result{}, err
	}
	if len(rest)+len(rawHeader) > MaxBufferedSize {
		return Result{}, ErrTooLarge
	}
	whole := make([]byte, 0, len(rawHeader)+len(sep)+len(rest))
	whole = append(append(append(whole, rawHeader...), sep...), rest...)
	top := mimeutil.ParseEntity(whole)
	if enc, how := findWrappedPGPMIME(top); enc != nil {
		payload, err := encryptedPayload(enc)
		if err != nil {
			return Result{}, err
		}
		res, err := decryptPayload(dst, h, bytes.NewReader(payload), keys, opts)
		res.Format = FormatRepaired
		if how == "signed" {
			res.Format = FormatPGPMIME
			res.OuterSignatureIgnored = true
		}
		return res, err
	}
	return decryptInline(dst, top, keys, opts)
}

// readTopHeader reads the header section of a message from br and parses it; a header that
// cannot be read makes the message ErrMalformed. raw is the section as read, sep the line
// end that closed it.
func readTopHeader(br *bufio.Reader) (h mimeutil.Header, raw []byte, sep string, err error) {
	raw, sep, err = mimeutil.ReadHeader(br)
	if err != nil {
		return mimeutil.Header{}, nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return mimeutil.ParseHeader(raw), raw, sep, nil
}

// findWrappedPGPMIME finds PGP/MIME that is not the top-level entity but
// still stands for the whole message: under a multipart/signed (first
// part), Exchange's multipart/mixed(text, application/pgp-encrypted,
// octet-stream), or Google's multipart/mixed(empty text, multipart/encrypted).
// Encryption behind a mixed part with real content is not taken (it does
// not cover the whole message; see EFAIL).
func findWrappedPGPMIME(top *mimeutil.Entity) (*mimeutil.Entity, string) {
	switch top.MediaType {
	case "multipart/signed":
		parts, err := top.Parts()
		if err != nil || len(parts) == 0 {
			return nil, ""
		}
		if isPGPMIMEEncrypted(parts[0]) {
			return parts[0], "signed"
		}
	case "multipart/mixed":
		parts, err := top.Parts()
		if err != nil {
			return nil, ""
		}
		var enc *mimeutil.Entity
		for i, p := range parts {
			switch {
			case p.MediaType == "application/pgp-encrypted" && i+1 < len(parts) && parts[i+1].MediaType == "application/octet-stream":
				if enc != nil {
					return nil, ""
				}
				enc = parts[i+1]
			case isPGPMIMEEncrypted(p):
				if enc != nil {
					return nil, ""
				}
				enc = p
			case enc != nil && p == enc:
			case p.MediaType == "application/octet-stream" && i > 0 && parts[i-1].MediaType == "application/pgp-encrypted":
			case strings.HasPrefix(p.MediaType, "text/"):
				d, _ := p.Decoded()
				t := strings.TrimSpace(string(d))
				if t != "" && t != "--" && t != "Empty Message" {
					return nil, ""
				}
			default:
				return nil, ""
			}
		}
		if enc != nil {
			return enc, "mixed"
		}
	}
	return nil, ""
}

func isPGPMIMEEncrypted(e *mimeutil.Entity) bool {
	return e.MediaType == "multipart/encrypted" && strings.EqualFold(e.Params["protocol"], "application/pgp-encrypted")
}

// encryptedPayload returns the decoded OpenPGP data of a multipart/encrypted
// entity or of an application/octet-stream part.
func encryptedPayload(e *mimeutil.Entity) ([]byte, error) {
	if e.MediaType == "multipart/encrypted" {
		parts, err := e.Parts()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		for _, p := range parts {
			if p.MediaType == "application/octet-stream" {
				e = p
				break
			}
		}
		if e.MediaType != "application/octet-stream" {
			return nil, fmt.Errorf("%w: no encrypted part", ErrMalformed)
		}
	}
	return e.Decoded()
}

// openPayload returns a reader of the binary OpenPGP packets in payload,
// which is armored ("PGP MESSAGE") or binary.
func openPayload(payload io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(payload, 4096)
	// Skip leading white space to see whether the data is armored.
	for {
		b, err := br.Peek(1)
		if err != nil {
			return nil, fmt.Errorf("%w: empty OpenPGP payload", ErrMalformed)
		}
		if b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n' {
			br.ReadByte()
			continue
		}
		if b[0] == '-' {
			blk, err := armor.Decode(br)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			if blk.Type != "PGP MESSAGE" {
				return nil, fmt.Errorf("%w: armor type %q is not PGP MESSAGE", ErrMalformed, blk.Type)
			}
			return blk.Body, nil
		}
		if b[0]&0x80 == 0 {
			return nil, fmt.Errorf("%w: payload is not OpenPGP data", ErrMalformed)
		}
		return br, nil
	}
}

// decryptPayload decrypts OpenPGP data and writes the merged message.
func decryptPayload(dst io.Writer, outer mimeutil.Header, payload io.Reader, keys KeyRing, opts DecryptOptions) (Result, error) {
	var res Result
	body, err := openPayload(payload)
	if err != nil {
		return res, err
	}
	md, all, err := readMessage(body, keys, opts, newBudget(opts))
	if err != nil {
		return res, err
	}
	fillResult(&res, md, all)
	br := mimeutil.GetReader(md.UnverifiedBody)
	defer mimeutil.PutReader(br)
	innerRaw, sep, err := mimeutil.ReadHeader(br)
	if err != nil {
		if errors.Is(err, ErrPlaintextTooLarge) {
			return res, err
		}
		return res, fmt.Errorf("%w: decrypted entity: %v", ErrMalformed, err)
	}
	inner := mimeutil.ParseHeader(innerRaw)
	var prefix []byte
	whole := false // prefix is all of the rest: the OpenPGP reader must not be read past its end
	if hdrprot.NeedsBody(inner) {
		// The protected header may be on the signed part: look ahead as far as the buffer goes.
		prefix, err = br.Peek(br.Size())
		switch err {
		case nil:
		case io.EOF:
			whole = true
		default:
			return res, integrityErr(err)
		}
	}
	merged := hdrprot.Merge(outer, inner, prefix, sep)
	res.ProtectedSubject = merged.Subject
	out := mimeutil.GetWriter(dst, false)
	defer mimeutil.PutWriter(out)
	out.Write(merged.Header)
	out.WriteString(sep)
	skip := merged.Skip
	switch {
	case whole:
		out.Write(prefix[:skip[0]])
		out.Write(prefix[skip[1]:])
	default:
		if skip[1] > skip[0] {
			out.Write(prefix[:skip[0]])
			br.Discard(skip[1]) // buffered already: prefix holds it
		}
		if _, err := io.Copy(out, br); err != nil {
			return res, integrityErr(err)
		}
	}
	if err := out.Flush(); err != nil {
		return res, err
	}
	finishSignature(&res, md, all, outer, opts)
	return res, nil
}

// readMessage opens an OpenPGP message whose plaintext (md.UnverifiedBody) spends budget.
func readMessage(body io.Reader, keys KeyRing, opts DecryptOptions, budget *plaintextBudget) (*openpgp.MessageDetails, KeyRing, error) {
	all := append(append(KeyRing{}, keys...), opts.VerifyKeys...)
	cfg := packetConfig(opts.Now)
	// Every compression layer stops just past the bound too (its output holds the packet
	// framing and signatures besides the plaintext), so that nested layers between the
	// ciphertext and the plaintext do no more work than the bound allows.
	layer := budget.left + layerSlack
	cfg.MaxDecompressedMessageSize = &layer
	body, err := limitKeyPackets(body, keys, len(opts.Passphrase) > 0, cfg)
	if err != nil {
		return nil, nil, err
	}
	tried := false
	prompt := func(_ []openpgp.Key, symmetric bool) ([]byte, error) {
		if symmetric && len(opts.Passphrase) > 0 && !tried {
			tried = true
			return opts.Passphrase, nil
		}
		return nil, pgperrors.ErrKeyIncorrect
	}
	md, err := openpgp.ReadMessage(body, all.entities(), prompt, cfg)
	if err != nil {
		if errors.Is(err, pgperrors.ErrKeyIncorrect) {
			return nil, nil, fmt.Errorf("%w (or its cipher is unsupported)", ErrNoKey)
		}
		var se pgperrors.StructuralError
		if errors.As(err, &se) {
			return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if strings.Contains(err.Error(), "private key") || strings.Contains(err.Error(), "decrypt") {
			return nil, nil, fmt.Errorf("%w: %v", ErrNoKey, err)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	md.UnverifiedBody = budget.limit(md.UnverifiedBody)
	return md, all, nil
}

func fillResult(res *Result, md *openpgp.MessageDetails, all KeyRing) {
	res.Encrypted = md.IsEncrypted
	for _, id := range md.EncryptedToKeyIds {
		res.Recipients = append(res.Recipients, fmt.Sprintf("%016X", id))
	}
	if md.DecryptedWith.Entity != nil {
		res.DecryptedWith = (&Key{entity: md.DecryptedWith.Entity}).Fingerprint()
	}
	if md.DecryptedWith.PublicKey != nil {
		res.DecryptionKeyID = fmt.Sprintf("%016X", md.DecryptedWith.PublicKey.KeyId)
	}
}

func finishSignature(res *Result, md *openpgp.MessageDetails, all KeyRing, outer mimeutil.Header, opts DecryptOptions) {
	if !md.IsSigned {
		return
	}
	var issuer uint64
	var signer *openpgp.Entity
	if c := md.SelectedCandidate; c != nil {
		issuer = c.IssuerKeyId
		signer = c.SignedByEntity
	}
	if md.SignedBy != nil {
		signer = md.SignedBy.Entity
		issuer = md.SignedBy.PublicKey.KeyId
	}
	res.Signature = resultFromCheck(md.Signature, issuer, signer, md.SignatureError, all)
	if md.Signature == nil && md.SelectedCandidate != nil && md.SelectedCandidate.CorrespondingSig != nil {
		res.Signature.Created = md.SelectedCandidate.CorrespondingSig.CreationTime
	}
	if signer != nil {
		res.Signature.checkSender(outer.Values("From"), "", (&Key{entity: signer}).Emails(), 0)
	}
}

func integrityErr(err error) error {
	if errors.Is(err, ErrPlaintextTooLarge) || errors.Is(err, pgperrors.ErrMessageTooLarge) {
		return ErrPlaintextTooLarge
	}
	var se pgperrors.SignatureError
	if errors.As(err, &se) || strings.Contains(err.Error(), "MDC") || strings.Contains(err.Error(), "authentication") {
		return fmt.Errorf("%w: %v", ErrIntegrity, err)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}
