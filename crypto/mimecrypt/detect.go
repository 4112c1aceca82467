// Package mimecrypt classifies a mail message (or a MIME part) by the
// OpenPGP or S/MIME protection it carries, without keys and without
// decrypting: PGP/MIME encrypted or signed (RFC 3156), inline PGP
// encrypted or signed (armored blocks in text parts: a cleartext signature,
// or a "PGP MESSAGE" whose first packet says whether it is encrypted or
// only signed), S/MIME enveloped and
// authEnveloped data, S/MIME signed detached (multipart/signed) or opaque
// (signed-data) (RFC 8551), and nested combinations as far as they are
// visible from outside (a signature around encryption, a signature around a
// signature). Encryption found only in a sub-part of a multipart (behind a
// multipart/mixed or multipart/alternative) does not make the message
// encrypted: it is listed in Result.Parts (see EFAIL), except for the
// known server manglings of PGP/MIME (Exchange, Google Workspace), which
// are reported as PGPEncrypted with Repaired set. Attached messages
// (message/rfc822) are not entered: a forwarded message keeps its own state.
//
// Detect buffers at most MaxSize bytes; the package is pure (no I/O beyond
// the reader, no keys). The MIME structure is read in one pass, in time
// linear in the message's size, and followed down to mimelimit's depth and
// part bounds: what lies beyond them is not classified (it counts as plain).
package mimecrypt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"regexp"
	"strings"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// MaxSize caps the bytes Detect reads.
const MaxSize = 64 << 20

// ErrTooLarge is returned for messages above MaxSize.
var ErrTooLarge = errors.New("mimecrypt: message exceeds MaxSize")

// Kind is one protection layer.
type Kind int

const (
	Plain Kind = iota
	PGPEncrypted
	PGPSigned
	PGPInlineEncrypted
	PGPInlineSigned
	SMIMEEnveloped
	SMIMEAuthEnveloped
	SMIMESignedDetached
	SMIMESignedOpaque
)

var kindNames = [...]string{"plain", "pgp-encrypted", "pgp-signed", "pgp-inline-encrypted", "pgp-inline-signed",
	"smime-enveloped", "smime-authenveloped", "smime-signed-detached", "smime-signed-opaque"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Encrypted reports whether k is an encryption layer.
func (k Kind) Encrypted() bool {
	return k == PGPEncrypted || k == PGPInlineEncrypted || k == SMIMEEnveloped || k == SMIMEAuthEnveloped
}

// Signed reports whether k is a signature layer.
func (k Kind) Signed() bool {
	return k == PGPSigned || k == PGPInlineSigned || k == SMIMESignedDetached || k == SMIMESignedOpaque
}

// Result is the classification of a message.
type Result struct {
	// Kind is the outermost layer.
	Kind Kind
	// Layers lists the layers from the outside in, as far as visible
	// without decrypting or unwrapping opaque data: a detached signature
	// around encryption is [SMIMESignedDetached SMIMEEnveloped].
	Layers []Kind
	// Partial: the protection covers only part of the message (a signed
	// part followed by a mailing-list footer, text around an inline block).
	Partial bool
	// Repaired: PGP/MIME mangled by a server, recognised anyway.
	Repaired bool
	// Parts lists protected sub-parts that do not make the message
	// protected (encryption inside multipart/alternative, for example).
	Parts []Kind
}

// Detect classifies the message read from r.
func Detect(r io.Reader) (Result, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return Result{}, err
	}
	if len(b) > MaxSize {
		return Result{}, ErrTooLarge
	}
	return DetectBytes(b), nil
}

// DetectBytes classifies a message held in memory. Given only a header section (a message
// too large to hold, as the pipeline streams it), it classifies by the top-level Content-Type:
// what needs the body (inline PGP, server manglings, layers inside a signature) counts as plain.
func DetectBytes(b []byte) Result {
	var res Result
	e := mimeutil.ParseEntity(b)
	for depth := 0; depth < 8; depth++ {
		k, next := classify(e, &res, depth == 0)
		if k == Plain && depth > 0 {
			break // the signed content is plain
		}
		res.Layers = append(res.Layers, k)
		if next == nil {
			break
		}
		e = next
	}
	res.Kind = res.Layers[0]
	return res
}

// classify returns the kind of e and, for a signature layer whose content
// is visible, the signed entity.
func classify(e *mimeutil.Entity, res *Result, top bool) (Kind, *mimeutil.Entity) {
	switch e.MediaType {
	case "multipart/encrypted":
		if strings.EqualFold(e.Params["protocol"], "application/pgp-encrypted") {
			return PGPEncrypted, nil
		}
	case "multipart/signed":
		parts, _ := e.Parts()
		var first *mimeutil.Entity
		if len(parts) > 0 {
			first = parts[0]
		}
		switch strings.ToLower(e.Params["protocol"]) {
		case "application/pgp-signature":
			return PGPSigned, first
		case "application/pkcs7-signature", "application/x-pkcs7-signature":
			return SMIMESignedDetached, first
		}
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		return smimeKind(e), nil
	case "application/octet-stream":
		if strings.HasSuffix(strings.ToLower(e.Params["name"]), ".p7m") {
			return smimeKind(e), nil
		}
	case "text/plain", "text/html":
		if k, partial := inlineKind(e); k != Plain {
			res.Partial = res.Partial || partial
			return k, nil
		}
	case "multipart/mixed":
		return mixed(e, res), nil
	}
	if strings.HasPrefix(e.MediaType, "multipart/") {
		collectParts(e, res, 0)
	}
	return Plain, nil
}

// mixed handles multipart/mixed: server-mangled PGP/MIME, a signed part
// followed by footers, inline blocks in text parts.
func mixed(e *mimeutil.Entity, res *Result) Kind {
	parts, err := e.Parts()
	if err != nil || len(parts) == 0 {
		return Plain
	}
	// Exchange: text, application/pgp-encrypted, application/octet-stream.
	for i := 0; i+1 < len(parts); i++ {
		if parts[i].MediaType == "application/pgp-encrypted" && parts[i+1].MediaType == "application/octet-stream" && trivialExcept(parts, i, i+1) {
			res.Repaired = true
			return PGPEncrypted
		}
	}
	// Google Workspace: trivial text + multipart/encrypted.
	for i, p := range parts {
		if p.MediaType == "multipart/encrypted" && strings.EqualFold(p.Params["protocol"], "application/pgp-encrypted") && trivialExcept(parts, i, i) {
			res.Repaired = true
			return PGPEncrypted
		}
	}
	// A signed first part with unsigned additions (mailing lists).
	if parts[0].MediaType == "multipart/signed" {
		var sub Result
		k, _ := classify(parts[0], &sub, false)
		if k.Signed() {
			res.Partial = len(parts) > 1
			return k
		}
	}
	// Inline blocks in text parts.
	var found Kind
	partial := false
	for _, p := range parts {
		if isAttachment(p) {
			partial = true
			continue
		}
		if p.MediaType == "text/plain" || p.MediaType == "text/html" {
			k, pp := inlineKind(p)
			if k != Plain && found == Plain {
				found, partial = k, partial || pp
				continue
			}
			if d, _ := p.Decoded(); len(bytes.TrimSpace(stripTags(d))) == 0 {
				continue
			}
		}
		partial = true
	}
	if found != Plain {
		res.Partial = res.Partial || partial
		return found
	}
	collectParts(e, res, 0)
	return Plain
}

// trivialExcept reports whether all parts other than i and j are empty
// text (what servers add when they mangle PGP/MIME).
func trivialExcept(parts []*mimeutil.Entity, i, j int) bool {
	for k, p := range parts {
		if k == i || k == j {
			continue
		}
		if !strings.HasPrefix(p.MediaType, "text/") {
			return false
		}
		d, _ := p.Decoded()
		if t := strings.TrimSpace(string(d)); t != "" && t != "--" && t != "Empty Message" {
			return false
		}
	}
	return true
}

func collectParts(e *mimeutil.Entity, res *Result, depth int) {
	if depth > 8 {
		return
	}
	parts, err := e.Parts()
	if err != nil {
		return
	}
	for _, p := range parts {
		if p.MediaType == "message/rfc822" || isAttachment(p) && !isCryptoType(p) {
			continue
		}
		var sub Result
		if k, _ := classify(p, &sub, false); k != Plain {
			res.Parts = append(res.Parts, k)
		} else {
			res.Parts = append(res.Parts, sub.Parts...)
		}
	}
}

func isCryptoType(p *mimeutil.Entity) bool {
	switch p.MediaType {
	case "application/pkcs7-mime", "application/x-pkcs7-mime", "multipart/encrypted", "multipart/signed":
		return true
	}
	return false
}

func isAttachment(e *mimeutil.Entity) bool {
	return strings.HasPrefix(strings.ToLower(e.Header.Get("Content-Disposition")), "attachment")
}

func inlineKind(e *mimeutil.Entity) (Kind, bool) {
	text, err := e.Decoded()
	if err != nil {
		return Plain, false
	}
	var marker string
	var k Kind
	switch {
	case bytes.Contains(text, []byte("-----BEGIN PGP MESSAGE-----")):
		marker, k = "-----BEGIN PGP MESSAGE-----", PGPInlineEncrypted
	case bytes.Contains(text, []byte("-----BEGIN PGP SIGNED MESSAGE-----")):
		marker, k = "-----BEGIN PGP SIGNED MESSAGE-----", PGPInlineSigned
	default:
		return Plain, false
	}
	if k == PGPInlineEncrypted {
		k = armoredMessageKind(text)
	}
	i := bytes.Index(text, []byte(marker))
	end := "-----END PGP MESSAGE-----"
	if marker != "-----BEGIN PGP MESSAGE-----" {
		end = "-----END PGP SIGNATURE-----"
	}
	j := bytes.Index(text[i:], []byte(end))
	partial := len(bytes.TrimSpace(stripTags(text[:i]))) > 0
	if j >= 0 {
		partial = partial || len(bytes.TrimSpace(stripTags(text[i+j+len(end):]))) > 0
	}
	return k, partial
}

var styleBlock = regexp.MustCompile(`(?is)<(style|script)[^>]*>.*?</(style|script)>`)

// stripTags removes HTML markup, style sheets and &nbsp; for space checks.
func stripTags(b []byte) []byte {
	b = styleBlock.ReplaceAll(b, nil)
	var out []byte
	in := false
	for _, c := range b {
		switch {
		case c == '<':
			in = true
		case c == '>':
			in = false
		case !in:
			out = append(out, c)
		}
	}
	return bytes.ReplaceAll(out, []byte("&nbsp;"), nil)
}

// OIDs of CMS content types, DER-encoded.
var (
	derSignedData    = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}
	derAuthEnveloped = []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17}
)

// smimeKind uses smime-type, or the CMS content type when it is missing.
func smimeKind(e *mimeutil.Entity) Kind {
	switch strings.ToLower(e.Params["smime-type"]) {
	case "enveloped-data":
		return SMIMEEnveloped
	case "authenveloped-data":
		return SMIMEAuthEnveloped
	case "signed-data":
		return SMIMESignedOpaque
	}
	head := e.Body
	if len(head) > 256 {
		head = head[:256]
	}
	der := head
	if !strings.EqualFold(e.Header.Get("Content-Transfer-Encoding"), "binary") {
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, head)
		clean = clean[:len(clean)/4*4]
		der, _ = base64.StdEncoding.AppendDecode(nil, clean)
	}
	if len(der) > 32 {
		der = der[:32]
	}
	switch {
	case bytes.Contains(der, derSignedData):
		return SMIMESignedOpaque
	case bytes.Contains(der, derAuthEnveloped):
		return SMIMEAuthEnveloped
	}
	return SMIMEEnveloped
}
