// Package hdrprot protects the header fields of encrypted mail and restores them after
// decryption, for both OpenPGP (crypto/pgpmime) and S/MIME (crypto/smime).
//
// Writing (RFC 9788 Header Protection, Header Confidentiality Policy hcp_baseline, with the
// legacy marker): the entity that is encrypted — the Cryptographic Payload — carries copies
// of the message's user-facing header fields (Subject, From, To, Cc, Reply-To, Date,
// Message-ID, References, In-Reply-To, Keywords, Comments) in its own header block, its
// Content-Type has hp="cipher" (RFC 9788) and protected-headers="v1" (the older form that
// Thunderbird, K-9 Mail and Delta Chat read), and an HP-Outer field records each of those
// fields as it appears outside. Outside, the Subject becomes "..." (what Thunderbird and K-9
// write and show; RFC 9788 names "[...]" but leaves the value to the sender), Keywords and
// Comments are left out, the rest stays as it was.
//
// Reading: after decryption the payload's header fields replace the outer ones of the same
// name, so each field appears once — except From, where the outer field (the one mail
// authentication checked) stays and the inner one is dropped (see keptOutside). The payload
// is the decrypted entity itself, or the signed part of a multipart/signed directly inside it
// (sign-then-encrypt), whichever is marked with hp= or protected-headers=. A marked signed
// part keeps every byte (its signature covers them); its fields are copied to the message
// header. HP-Outer fields and the markers are dropped from a decrypted entity that becomes
// the message itself, and so is a legacy display element at its start (the protected fields
// repeated in the body for clients without header protection: a text/rfc822-headers first
// part of a multipart/mixed, or the header lines that open a text/plain body marked
// hp-legacy-display="1"). The gateway writes no legacy display element of its own: the body
// of what it encrypts stays as it was. Without a marker the decrypted entity's own fields
// still win over the outer ones: they end up in one header block, and a field is never
// written twice.
package hdrprot

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// ObscuredSubject is the outer Subject of a message whose header is protected.
const ObscuredSubject = "..."

// hpOuter names the RFC 9788 field that records an outer field in the payload.
const hpOuter = "HP-Outer"

// protected reports whether a message field is copied into the Cryptographic Payload.
func protected(name string) bool {
	switch strings.ToLower(name) {
	case "subject", "from", "to", "cc", "reply-to", "date", "message-id", "references",
		"in-reply-to", "keywords", "comments":
		return true
	}
	return false
}

// outerValue is what hcp_baseline leaves outside for a protected field: "..." for the
// Subject, nothing (false) for Keywords and Comments, the value itself for the others.
func outerValue(f mimeutil.Field) (string, bool) {
	switch strings.ToLower(f.Name) {
	case "subject":
		return ObscuredSubject, true
	case "keywords", "comments":
		return "", false
	}
	return f.Value(), true
}

// WriteOuter writes the header fields of an encrypted message that stay outside the
// ciphertext: every field except Content-* and MIME-Version; with protect, the Subject is
// "..." and Keywords and Comments are left out. Copied fields keep their line ends; the
// caller canonicalises them (the encrypting packages write through a CRLF writer).
func WriteOuter(w io.Writer, h mimeutil.Header, protect bool) {
	for _, f := range h.Fields {
		if mimeutil.IsContent(f.Name) {
			continue
		}
		if protect && protected(f.Name) {
			v, keep := outerValue(f)
			if !keep {
				continue
			}
			if strings.EqualFold(f.Name, "Subject") {
				fmt.Fprintf(w, "Subject: %s\r\n", v)
				continue
			}
		}
		w.Write(f.Raw)
	}
}

// WritePayload writes the payload header (see WritePayloadHeader) and then the body, with
// CRLF line ends, to w: the canonical bytes an OpenPGP signature covers or encryption hides.
func WritePayload(w io.Writer, h mimeutil.Header, protect bool, body io.Reader) error {
	bw := mimeutil.GetWriter(w, true) // large writes reach the signer or cipher
	defer mimeutil.PutWriter(bw)
	part := &mimeutil.CRLFWriter{W: bw}
	WritePayloadHeader(part, h, protect)
	if _, err := io.Copy(part, body); err != nil {
		return err
	}
	return bw.Flush()
}

// WritePayloadHeader writes the header block, with the blank line that ends it, of the
// entity that is encrypted: h's Content-* fields (MIME-Version excepted; text/plain when h
// has no Content-Type) and, with protect, the RFC 9788 protected header — the markers on
// Content-Type, a copy of each protected field and one HP-Outer field for each of them left
// outside. Lines end in CRLF except copied fields, which keep theirs.
func WritePayloadHeader(w io.Writer, h mimeutil.Header, protect bool) {
	hasCT := false
	for _, f := range h.Fields {
		if !mimeutil.IsContent(f.Name) || strings.EqualFold(f.Name, "MIME-Version") {
			continue
		}
		if strings.EqualFold(f.Name, "Content-Type") {
			hasCT = true
			if protect {
				io.WriteString(w, fold("Content-Type", withoutMarkers(f.Value())+`; protected-headers="v1"; hp="cipher"`, "\r\n"))
				continue
			}
		}
		w.Write(f.Raw)
	}
	if !hasCT {
		if protect {
			io.WriteString(w, "Content-Type: text/plain; charset=us-ascii;\r\n protected-headers=\"v1\"; hp=\"cipher\"\r\n")
		} else {
			io.WriteString(w, "Content-Type: text/plain; charset=us-ascii\r\n")
		}
	}
	if protect {
		for _, f := range h.Fields {
			if protected(f.Name) {
				w.Write(f.Raw)
				if !bytes.HasSuffix(f.Raw, []byte("\n")) {
					io.WriteString(w, "\r\n")
				}
			}
		}
		for _, f := range h.Fields {
			if !protected(f.Name) {
				continue
			}
			if v, keep := outerValue(f); keep {
				io.WriteString(w, fold(hpOuter, f.Name+": "+v, "\r\n"))
			}
		}
	}
	io.WriteString(w, "\r\n")
}

// marked reports whether a header block is a Cryptographic Payload with protected header
// fields: its Content-Type carries hp= (RFC 9788) or protected-headers= (the legacy form).
func marked(h mimeutil.Header) bool {
	_, params := h.ContentType()
	return params["hp"] != "" || params["protected-headers"] != ""
}

// NeedsBody reports whether Merge must see the start of the decrypted entity's body: the
// entity is an unmarked multipart/signed whose signed part may carry the protected header,
// or a marked multipart or text/plain entity that may begin with a legacy display element.
func NeedsBody(inner mimeutil.Header) bool {
	mt, _ := inner.ContentType()
	if marked(inner) {
		return strings.HasPrefix(mt, "multipart/") || mt == "text/plain"
	}
	return mt == "multipart/signed"
}

// SignedPartMarked reports whether an entity is a multipart/signed whose signed part already
// carries the protected header (it was signed with protection to be encrypted next; the
// encryption then only obscures the outside). bodyPrefix is the start of its body.
func SignedPartMarked(h mimeutil.Header, bodyPrefix []byte) bool {
	mt, params := h.ContentType()
	if mt != "multipart/signed" {
		return false
	}
	ph, _, _, ok := firstPart(bodyPrefix, params["boundary"])
	return ok && marked(ph)
}

// Merged is the header of a decrypted message.
type Merged struct {
	// Header is the header block without the blank line that ends it.
	Header []byte
	// Subject is the protected Subject, "" when the payload had no marked header.
	Subject string
	// Skip is the part of the body to leave out, [Skip[0], Skip[1]) (empty when equal): a
	// legacy display element, which repeats the protected fields in the body for clients
	// without header protection and is redundant once they are in the header.
	Skip [2]int
}

// Merge builds the header of a decrypted message from the outer header (of the encrypted
// message), the header of the decrypted entity, and, when NeedsBody says so, a prefix of
// that entity's body (a bounded one is enough: what does not end in it is left as it is).
// sep is the line break of the decrypted entity's header.
func Merge(outer, inner mimeutil.Header, bodyPrefix []byte, sep string) Merged {
	var res Merged
	var lifted []mimeutil.Field // fields copied from a marked signed part
	top := marked(inner)
	mt, params := inner.ContentType()
	switch {
	case top:
		res.Subject = inner.Get("Subject")
		res.Skip = legacyDisplay(mt, params, inner, bodyPrefix)
	case mt == "multipart/signed":
		if ph, _, _, ok := firstPart(bodyPrefix, params["boundary"]); ok && marked(ph) {
			for _, f := range ph.Fields {
				if f.Name != "" && !mimeutil.IsContent(f.Name) && !strings.EqualFold(f.Name, hpOuter) {
					lifted = append(lifted, f)
				}
			}
			res.Subject = ph.Get("Subject")
		}
	}
	// The decrypted fields win: an outer field is written only if no field of its name
	// comes from inside. From is the exception (keptOutside).
	outerFrom := len(outer.Values("From")) > 0
	inside := map[string]bool{}
	for _, f := range inner.Fields {
		if f.Name != "" && !mimeutil.IsContent(f.Name) && !(outerFrom && keptOutside(f.Name)) {
			inside[strings.ToLower(f.Name)] = true
		}
	}
	for _, f := range lifted {
		if !(outerFrom && keptOutside(f.Name)) {
			inside[strings.ToLower(f.Name)] = true
		}
	}
	var b bytes.Buffer
	for _, f := range outer.Fields {
		if mimeutil.IsContent(f.Name) || inside[strings.ToLower(f.Name)] {
			continue
		}
		b.Write(f.Raw)
	}
	for _, f := range lifted {
		if outerFrom && keptOutside(f.Name) {
			continue
		}
		b.Write(f.Raw)
		if !bytes.HasSuffix(f.Raw, []byte("\n")) {
			b.WriteString(sep)
		}
	}
	if outer.Get("MIME-Version") != "" && inner.Get("MIME-Version") == "" {
		b.WriteString("MIME-Version: 1.0" + sep)
	}
	for _, f := range inner.Fields {
		switch {
		case top && strings.EqualFold(f.Name, hpOuter):
			continue
		case outerFrom && keptOutside(f.Name):
			continue
		case top && strings.EqualFold(f.Name, "Content-Type"):
			b.WriteString(fold("Content-Type", withoutMarkers(f.Value()), sep))
			continue
		}
		b.Write(f.Raw)
	}
	res.Header = b.Bytes()
	return res
}

// keptOutside reports whether the outer field wins over a protected one: From. The outer
// From is what SPF, DKIM and DMARC authenticated and what a signature is compared with; a
// From inside the ciphertext is whatever its (possibly anonymous) author wrote, and letting
// it replace the authenticated one would carry a DMARC pass over to an address it was never
// about. RFC 9788 leaves From outside as it is (hcp_baseline), so the two agree unless
// someone changed one of them.
func keptOutside(name string) bool { return strings.EqualFold(name, "From") }

// maxLegacyLines bounds the header lines of a text/plain legacy display element.
const maxLegacyLines = 20

// legacyDisplay finds a legacy display element at the start of a marked entity's body:
//   - the first part of a multipart/mixed, when it is text/rfc822-headers (or text/plain) marked
//     protected-headers="v1" (the draft-autocrypt-lamps-protected-headers form Enigmail and
//     older Thunderbird wrote) or hp-legacy-display="1";
//   - the leading header lines and blank line of a text/plain body whose Content-Type has
//     hp-legacy-display="1" (RFC 9788 §4.5.3.1), when it is not transfer-encoded (quoted-
//     printable or base64 lines would have to be decoded and encoded again).
func legacyDisplay(mt string, params map[string]string, h mimeutil.Header, body []byte) [2]int {
	switch {
	case mt == "multipart/mixed": // never the signed part of a multipart/signed
		ph, start, partBody, ok := firstPart(body, params["boundary"])
		if !ok {
			return [2]int{}
		}
		pmt, pp := ph.ContentType()
		if (pmt != "text/rfc822-headers" && pmt != "text/plain") || (pp["protected-headers"] == "" && pp["hp-legacy-display"] != "1") {
			return [2]int{}
		}
		next := nextDelimiter(body, params["boundary"], partBody)
		if next < 0 {
			return [2]int{}
		}
		if _, closing, _ := delimiterAt(body, params["boundary"], next); !closing {
			return [2]int{start, next} // the element is not the only part
		}
	case mt == "text/plain" && params["hp-legacy-display"] == "1":
		switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
		case "", "7bit", "8bit", "binary":
		default:
			return [2]int{}
		}
		for p, n := 0, 0; p < len(body) && n <= maxLegacyLines; n++ {
			e := bytes.IndexByte(body[p:], '\n')
			if e < 0 {
				break
			}
			line := bytes.TrimRight(body[p:p+e], "\r")
			if len(line) == 0 {
				if n == 0 {
					break
				}
				return [2]int{0, p + e + 1}
			}
			if i := bytes.IndexByte(line, ':'); i <= 0 || bytes.ContainsAny(line[:i], " \t") {
				break // not a header line: no legacy display element
			}
			p += e + 1
		}
	}
	return [2]int{}
}

// delimiterAt reports whether a delimiter line of boundary starts at i, and where the line
// after it starts; closing is set for the close delimiter.
func delimiterAt(b []byte, boundary string, i int) (next int, closing, ok bool) {
	d := "--" + boundary
	if i > 0 && b[i-1] != '\n' || !bytes.HasPrefix(b[i:], []byte(d)) {
		return 0, false, false
	}
	rest := b[i+len(d):]
	if bytes.HasPrefix(rest, []byte("--")) {
		closing, rest = true, rest[2:]
	}
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 || len(bytes.TrimRight(rest[:nl], " \t\r")) != 0 {
		return 0, false, false // a longer boundary, or the line does not end in b
	}
	return len(b) - len(rest) + nl + 1, closing, true
}

// nextDelimiter is the start of the first delimiter line of boundary at or after from, or -1.
func nextDelimiter(b []byte, boundary string, from int) int {
	d := []byte("--" + boundary)
	for from < len(b) {
		i := bytes.Index(b[from:], d)
		if i < 0 {
			return -1
		}
		if _, _, ok := delimiterAt(b, boundary, from+i); ok {
			return from + i
		}
		from += i + len(d)
	}
	return -1
}

// firstPart finds the first part of a multipart body in prefix: its header, the start of
// its delimiter line and the start of its body.
func firstPart(prefix []byte, boundary string) (h mimeutil.Header, start, body int, ok bool) {
	if boundary == "" {
		return h, 0, 0, false
	}
	start = nextDelimiter(prefix, boundary, 0)
	if start < 0 {
		return h, 0, 0, false
	}
	p, closing, _ := delimiterAt(prefix, boundary, start)
	if closing {
		return h, 0, 0, false
	}
	for hs := p; p < len(prefix); {
		e := bytes.IndexByte(prefix[p:], '\n')
		if e < 0 {
			break // the header block does not end in prefix
		}
		if len(bytes.TrimRight(prefix[p:p+e], "\r")) == 0 {
			return mimeutil.ParseHeader(prefix[hs:p]), start, p + e + 1, true
		}
		p += e + 1
	}
	return h, 0, 0, false
}

// fold formats a header field whose value was unfolded, folding it again before spaces of
// the value so that lines stay near 78 characters (RFC 5322 §2.2.3) where the value allows;
// unfolding gives the value back exactly. The field ends in sep.
func fold(name, value, sep string) string {
	var b strings.Builder
	b.WriteString(name + ": ")
	col := len(name) + 2
	for col+len(value) > 78 {
		i := strings.LastIndexByte(value[:min(78-col, len(value))], ' ')
		if i <= 0 {
			j := strings.IndexByte(value[1:], ' ')
			if j < 0 {
				break // one long word: it stays on its line
			}
			i = j + 1
		}
		b.WriteString(value[:i] + sep)
		value, col = value[i:], 0
	}
	b.WriteString(value + sep)
	return b.String()
}

// withoutMarkers returns a Content-Type value without its hp, protected-headers and
// hp-legacy-display parameters, the rest as written (unfolded).
func withoutMarkers(v string) string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i <= len(v); i++ {
		if i < len(v) {
			switch {
			case v[i] == '\\' && quoted && i+1 < len(v):
				i++
				continue
			case v[i] == '"':
				quoted = !quoted
				continue
			case v[i] != ';' || quoted:
				continue
			}
		}
		seg := strings.TrimSpace(v[start:min(i, len(v))])
		start = i + 1
		name, _, _ := strings.Cut(seg, "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "hp", "protected-headers", "hp-legacy-display":
			continue
		}
		if seg != "" || len(parts) == 0 {
			parts = append(parts, seg)
		}
	}
	return strings.Join(parts, "; ")
}
