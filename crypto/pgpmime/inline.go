package pgpmime

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

const (
	beginMessage = "-----BEGIN PGP MESSAGE-----"
	endMessage   = "-----END PGP MESSAGE-----"
	beginSigned  = "-----BEGIN PGP SIGNED MESSAGE-----"
	endSignature = "-----END PGP SIGNATURE-----"
)

// decryptInline decrypts armored blocks in the text parts of a message
// and writes the message with each such part replaced by a text/plain part
// holding the plaintext. Attachments and message/rfc822 parts are not
// entered: what was forwarded keeps its own state.
func decryptInline(dst io.Writer, top *mimeutil.Entity, keys KeyRing, opts DecryptOptions) (Result, error) {
	res := Result{Format: FormatInline}
	st := &inlineState{keys: keys, opts: opts, res: &res, outer: top.Header, budget: newBudget(opts)}
	var out bytes.Buffer
	if err := st.entity(&out, top, true); err != nil {
		return res, err
	}
	if st.found == 0 {
		return res, ErrNotEncrypted
	}
	if st.decrypted == 0 {
		return res, st.lastErr
	}
	res.Encrypted = true
	_, err := dst.Write(out.Bytes())
	return res, err
}

type inlineState struct {
	keys      KeyRing
	opts      DecryptOptions
	budget    *plaintextBudget // shared by every block of the message
	res       *Result
	outer     mimeutil.Header
	found     int
	decrypted int
	lastErr   error
}

func (st *inlineState) entity(out *bytes.Buffer, e *mimeutil.Entity, top bool) error {
	sep := "\r\n"
	if !bytes.Contains(e.RawHeader, []byte("\r\n")) && len(e.RawHeader) > 0 {
		sep = "\n"
	}
	switch {
	case strings.HasPrefix(e.MediaType, "multipart/") && e.MediaType != "multipart/signed" && e.MediaType != "multipart/encrypted":
		parts, err := e.Parts()
		if err != nil {
			out.Write(e.Raw)
			return nil
		}
		b := e.Params["boundary"]
		out.Write(e.RawHeader)
		out.WriteString(sep)
		for _, p := range parts {
			out.WriteString("--" + b + sep)
			if err := st.entity(out, p, false); err != nil {
				return err
			}
			out.WriteString(sep)
		}
		out.WriteString("--" + b + "--" + sep)
		return nil
	case (e.MediaType == "text/plain" || e.MediaType == "text/html") && !isAttachment(e):
		text, err := e.Decoded()
		if err != nil || !bytes.Contains(text, []byte(beginMessage)) {
			out.Write(e.Raw)
			if len(bytes.TrimSpace(text)) > 0 && !top {
				st.res.Partial = true
			}
			return nil
		}
		if e.MediaType == "text/html" {
			text = htmlToText(text)
		}
		st.found++
		before, block, after, ok := cutBlock(text, beginMessage, endMessage)
		if !ok {
			out.Write(e.Raw)
			return nil
		}
		plain, err := st.decryptBlock(block)
		if errors.Is(err, ErrPlaintextTooLarge) {
			return err // a bomb refuses the message, it does not leave one block undecrypted
		}
		if err != nil {
			st.lastErr = err
			out.Write(e.Raw)
			return nil
		}
		st.decrypted++
		if len(bytes.TrimSpace(before)) > 0 || len(bytes.TrimSpace(after)) > 0 {
			st.res.Partial = true
		}
		if !top {
			// a sibling part already made it partial if it had text
		}
		for _, f := range e.Header.Fields {
			n := strings.ToLower(f.Name)
			if n == "content-type" || n == "content-transfer-encoding" {
				continue
			}
			out.Write(f.Raw)
		}
		charset := e.Params["charset"]
		if charset == "" || e.MediaType == "text/html" {
			charset = "utf-8"
		}
		fmt.Fprintf(out, "Content-Type: text/plain; charset=%s%sContent-Transfer-Encoding: 8bit%s%s", charset, sep, sep, sep)
		body := append(append(append([]byte{}, before...), plain...), after...)
		if e.MediaType == "text/html" {
			body = plain
		}
		out.Write(body)
		return nil
	default:
		out.Write(e.Raw)
		if !top {
			st.res.Partial = true
		}
		return nil
	}
}

func isAttachment(e *mimeutil.Entity) bool {
	return strings.HasPrefix(strings.ToLower(e.Header.Get("Content-Disposition")), "attachment")
}

func (st *inlineState) decryptBlock(block []byte) ([]byte, error) {
	body, err := openPayload(bytes.NewReader(normalizeArmor(block)))
	if err != nil {
		return nil, err
	}
	md, all, err := readMessage(body, st.keys, st.opts, st.budget)
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		return nil, integrityErr(err)
	}
	fillResult(st.res, md, all)
	finishSignature(st.res, md, all, st.outer, st.opts)
	return plain, nil
}

// cutBlock finds the first begin..end armored block in text.
func cutBlock(text []byte, begin, end string) (before, block, after []byte, ok bool) {
	i := bytes.Index(text, []byte(begin))
	if i < 0 {
		return nil, nil, nil, false
	}
	// include leading indentation of the BEGIN line in the block
	ls := bytes.LastIndexByte(text[:i], '\n') + 1
	if len(bytes.TrimSpace(text[ls:i])) == 0 {
		i = ls
	}
	j := bytes.Index(text[i:], []byte(end))
	if j < 0 {
		return nil, nil, nil, false
	}
	j += i + len(end)
	if k := bytes.IndexByte(text[j:], '\n'); k >= 0 {
		j += k + 1
	} else {
		j = len(text)
	}
	return text[:i], text[i:j], text[j:], true
}

// normalizeArmor trims each line of an armored block (mail clients indent
// or pad it, Outlook puts a non-breaking space on the blank line) and
// restores the blank line that ends the armor headers.
func normalizeArmor(block []byte) []byte {
	lines := strings.Split(strings.ReplaceAll(string(block), "\r\n", "\n"), "\n")
	var out []string
	inHeaders := false
	for _, l := range lines {
		// Trim spaces, tabs, CRs and no-break spaces, also a Latin-1 NBSP byte (which
		// decodes as utf8.RuneError).
		l = strings.TrimFunc(l, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\r' || r == '\u00a0' || r == utf8.RuneError
		})
		if strings.HasPrefix(l, "-----BEGIN ") {
			out = append(out, l)
			inHeaders = true
			continue
		}
		if inHeaders {
			if l == "" {
				out = append(out, "")
				inHeaders = false
				continue
			}
			if k, _, ok := strings.Cut(l, ": "); ok && !strings.ContainsAny(k, " =") {
				out = append(out, l)
				continue
			}
			out = append(out, "")
			inHeaders = false
		}
		if l == "" {
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

var (
	htmlBreak = regexp.MustCompile(`(?i)<br\s*/?>|</div>|</p>|</pre>`)
	htmlBlock = regexp.MustCompile(`(?i)<(br|div|p)\b`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
	htmlStyle = regexp.MustCompile(`(?is)<(style|script)[^>]*>.*?</(style|script)>`)
)

// htmlToText extracts the text of an HTML body well enough to find an
// armored block in it.
func htmlToText(b []byte) []byte {
	s := htmlStyle.ReplaceAllString(string(b), "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if htmlBlock.MatchString(s) {
		// Line structure comes from the markup, not the source lines.
		s = strings.ReplaceAll(s, "\n", "")
	}
	s = htmlBreak.ReplaceAllString(s, "\n")
	s = htmlTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	return []byte(s)
}
