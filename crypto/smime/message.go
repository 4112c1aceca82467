package smime

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sealgate/sealgate/crypto/internal/hdrprot"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// EncryptOptions configures Encrypt.
type EncryptOptions struct {
	// Recipients' certificates (RSA or EC). Required.
	Recipients []*x509.Certificate
	// Cipher: AES256CBC (default) or an AES-GCM AuthEnvelopedData.
	Cipher Cipher
	// KeyTransport for RSA recipients: RSAPKCS1v15 (default) or RSAOAEP.
	KeyTransport KeyTransport
	// ProtectedHeaders protects the header (RFC 9788 with the legacy
	// protected-headers="v1" marker, see crypto/internal/hdrprot): the
	// user-facing fields are copied into the encrypted entity and the outer
	// Subject becomes "...".
	ProtectedHeaders bool
	// Now is the clock for the certificate validity check; nil: time.Now.
	Now func() time.Time
}

// DecryptOptions configures Decrypt.
type DecryptOptions struct {
	// Now is reserved for key validity checks; nil: time.Now.
	Now func() time.Time
}

func readMessage(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxMessageSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxMessageSize {
		return nil, ErrTooLarge
	}
	return b, nil
}

// Encrypt reads an RFC 5322 message and writes it as S/MIME enveloped (or
// authEnveloped) data. Header fields other than Content-* stay outside
// unchanged; the Content-* fields and body, in canonical CRLF form, are
// encrypted.
func Encrypt(dst io.Writer, msg io.Reader, opts EncryptOptions) error {
	if len(opts.Recipients) == 0 {
		return ErrNoRecipients
	}
	t := now(opts.Now)
	for _, c := range opts.Recipients {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return fmt.Errorf("%w: %s is not valid at %s", ErrBadCertificate, c.Subject, t.Format(time.RFC3339))
		}
		if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageKeyEncipherment|x509.KeyUsageKeyAgreement) == 0 {
			return fmt.Errorf("%w: %s may not be used for encryption", ErrBadCertificate, c.Subject)
		}
	}
	data, err := readMessage(msg)
	if err != nil {
		return err
	}
	top := mimeutil.ParseEntity(data)
	// A message signed with protection has its protected header under the signature already.
	inner := payloadEntity(top, opts.ProtectedHeaders && !hdrprot.SignedPartMarked(top.Header, top.Body))
	der, err := envelope(inner, opts.Recipients, opts.Cipher, opts.KeyTransport)
	if err != nil {
		return err
	}
	st := "enveloped-data"
	if opts.Cipher == AES256GCM || opts.Cipher == AES128GCM {
		st = "authEnveloped-data"
	}
	out := bufio.NewWriter(dst)
	hdrprot.WriteOuter(&mimeutil.CRLFWriter{W: out}, top.Header, opts.ProtectedHeaders)
	fmt.Fprintf(out, "MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=%s; name=\"smime.p7m\"\r\n"+
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n", st)
	writeBase64(out, der)
	return out.Flush()
}

// payloadEntity returns the Content-* fields and body of a message as a
// MIME entity in canonical CRLF form; with protect, its header block also
// holds the protected header (RFC 9788, crypto/internal/hdrprot).
func payloadEntity(top *mimeutil.Entity, protect bool) []byte {
	var b bytes.Buffer
	hdrprot.WritePayloadHeader(&b, top.Header, protect)
	b.Write(top.Body)
	return mimeutil.CanonicalCRLF(b.Bytes())
}

// writeOuter writes the message header fields that are not Content-*.
func writeOuter(w io.Writer, h mimeutil.Header) {
	cw := &mimeutil.CRLFWriter{W: w}
	for _, f := range h.Fields {
		if !mimeutil.IsContent(f.Name) {
			cw.Write(f.Raw)
		}
	}
}

func writeBase64(w io.Writer, der []byte) {
	enc := base64.StdEncoding.EncodeToString(der)
	for len(enc) > 76 {
		io.WriteString(w, enc[:76]+"\r\n")
		enc = enc[76:]
	}
	io.WriteString(w, enc+"\r\n")
}

// mergeOuter writes the header of the outer message merged with that of
// an inner entity (the inner fields win, see crypto/internal/hdrprot),
// then the inner entity's body as it is.
func mergeOuter(w io.Writer, outer mimeutil.Header, inner []byte) error {
	ih, body := mimeutil.SplitEntity(inner)
	sep := "\r\n"
	if !bytes.Contains(ih, []byte("\r\n")) && bytes.Contains(ih, []byte("\n")) {
		sep = "\n"
	}
	m := hdrprot.Merge(outer, mimeutil.ParseHeader(ih), body, sep)
	var buf bytes.Buffer
	buf.Grow(len(m.Header) + len(sep) + len(body))
	buf.Write(m.Header)
	buf.WriteString(sep)
	buf.Write(body[:m.Skip[0]])
	buf.Write(body[m.Skip[1]:])
	_, err := w.Write(buf.Bytes())
	return err
}

// isPKCS7Mime reports whether e is application/(x-)pkcs7-mime (or a .p7m
// octet-stream, as some clients label it).
func isPKCS7Mime(e *mimeutil.Entity) bool {
	switch e.MediaType {
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		return true
	case "application/octet-stream":
		return strings.HasSuffix(strings.ToLower(e.Params["name"]), ".p7m")
	}
	return false
}

// cmsBody decodes the body of a pkcs7-mime entity to DER.
func cmsBody(e *mimeutil.Entity) ([]byte, error) {
	raw, err := e.Decoded()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	der, err := berToDER(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return der, nil
}

// Decrypt reads an S/MIME enveloped or authEnveloped message (also one
// wrapped in a multipart/signed, whose outer signature is then ignored)
// and writes the outer header fields followed by the decrypted entity.
// key is the recipient's private key (*rsa.PrivateKey, *ecdsa.PrivateKey,
// or a crypto.Decrypter for RSA); cert selects the recipient info (nil:
// try every one).
func Decrypt(dst io.Writer, msg io.Reader, cert *x509.Certificate, key crypto.PrivateKey, opts DecryptOptions) (Result, error) {
	var res Result
	data, err := readMessage(msg)
	if err != nil {
		return res, err
	}
	top := mimeutil.ParseEntity(data)
	e := top
	if top.MediaType == "multipart/signed" {
		if parts, err := top.Parts(); err == nil && len(parts) > 0 && isPKCS7Mime(parts[0]) {
			e = parts[0]
		}
	}
	if !isPKCS7Mime(e) {
		return res, ErrNotEncrypted
	}
	if st := strings.ToLower(e.Params["smime-type"]); st != "" && st != "enveloped-data" && st != "authenveloped-data" {
		return res, fmt.Errorf("%w: smime-type=%s", ErrNotEncrypted, st)
	}
	der, err := cmsBody(e)
	if err != nil {
		return res, err
	}
	pt, info, err := decryptEnveloped(der, cert, key)
	res.Info = info
	if err != nil {
		return res, err
	}
	res.SMIMEType = "enveloped-data"
	if info.Authenticated {
		res.SMIMEType = "authEnveloped-data"
	}
	return res, mergeOuter(dst, top.Header, pt)
}
