package mailindex_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway/mailindex"
)

// extractCases are messages with the search text the index has stored for them since before
// Extract was built on mimeutil: rows stored then and rows stored now answer a search alike.
var extractCases = []struct {
	msg, header, text string
	rawHeader         bool // the header parsed and is kept
}{
	{"Subject: hi\r\n\r\nbody\r\n",
		"Subject: hi\n",
		"body\r\n\n", true},
	{"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n--b--\r\n",
		"Content-Type: multipart/mixed; boundary=b\n",
		"Grüße\n", true},
	{"no header at all",
		"",
		"no header at all", false},
	{"Subject: =?utf-8?b?w7w=?=\n\n",
		"Subject: ü\n",
		"\n", true},
	{"Subject: =?utf-8?q?a?= \r\n =?utf-8?q?b?=\r\nfrom: x@y\r\n\r\n",
		"Subject: ab\nFrom: x@y\n",
		"\n", true},
	{"Content-Type: multipart/alternative; boundary=\"a b\"\r\n\r\npre\r\n--a b\r\nContent-Type: text/plain\r\n\r\nplain part\r\n--a b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aHRtbDwvYj4=\r\n--a b--\r\nepilogue\r\n",
		"Content-Type: multipart/alternative; boundary=\"a b\"\n",
		"plain part\n<b>html</b>\n", true},
	{"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/related; boundary=i\r\n\r\n--i\r\n\r\ninner text\r\n--i\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--i--\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: embedded\r\n\r\nembedded body\r\n--o\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--o--\r\n",
		"Content-Type: multipart/mixed; boundary=o\n",
		"inner text\nSubject: embedded\r\n\r\nembedded body\n", true},
	{"Subject: header only, no blank line",
		"Subject: header only, no blank line\n",
		"\n", true},
	{" Folded: first line\r\n\r\nbody\r\n",
		"",
		" Folded: first line\r\n\r\nbody\r\n", false},
	{"Bad Name: x\r\n\r\nbody\r\n",
		"",
		"Bad Name: x\r\n\r\nbody\r\n", false},
	{"Subject: x\r\nnot a field\r\n\r\nbody\r\n",
		"",
		"Subject: x\r\nnot a field\r\n\r\nbody\r\n", false},
	{"Subject: x\n\nLF only\nsecond line\n",
		"Subject: x\n",
		"LF only\nsecond line\n\n", true},
	{"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n",
		"Content-Transfer-Encoding: base64\n",
		"hello world\n", true},
	{"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nraw=20text\r\n",
		"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: x-unknown\n",
		"raw=20text\r\n\n", true},
}

func TestExtractAsStored(t *testing.T) {
	for _, c := range extractCases {
		st, err := mailindex.Extract(strings.NewReader(c.msg), nil)
		if err != nil || st.Header != c.header || st.Text != c.text || (st.RawHeader != nil) != c.rawHeader {
			t.Errorf("Extract(%q) = %q, %q, raw header %v, %v; want %q, %q, %v", c.msg, st.Header, st.Text, st.RawHeader != nil, err,
				c.header, c.text, c.rawHeader)
		}
	}
}

// extractBetter lists the messages of the interop corpus whose search text differs from what
// was stored before, each with a string only the new text holds: text in a charset other
// than UTF-8 is converted (it was indexed in its own bytes, so that no UTF-8 search found
// it), and a Content-Type with a parameter without value no longer hides the parts.
var extractBetter = map[string]string{
	"openpgp/eml/inline-signed-latin1.eml":                "àèìòù",
	"openpgp/eml/deltachat/unencrypted_signed_simple.eml": "Hello!",
}

// TestExtractInteropCorpus: for each message of the interop corpus, the search text is the
// one stored before (testdata/extract-interop.tsv: hashes of the header and body text, and
// whether the header was kept), or one that finds more (extractBetter).
func TestExtractInteropCorpus(t *testing.T) {
	dir := peertest.InteropCorpus(t)
	f, err := os.Open(filepath.Join("testdata", "extract-interop.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t") // name, hashes of header and text, header kept
		if len(cols) != 4 {
			t.Fatalf("line %q", sc.Text())
		}
		name, header, text, raw := cols[0], cols[1], cols[2], cols[3] == "true"
		msg, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n++
		st, err := mailindex.Extract(bytes.NewReader(msg), nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if want, ok := extractBetter[name]; ok {
			if !strings.Contains(st.Text, want) {
				t.Errorf("%s: text %q lacks %q", name, st.Text, want)
			}
			continue
		}
		if short(st.Header) != header || short(st.Text) != text || (st.RawHeader != nil) != raw {
			t.Errorf("%s: header %q, text %q: not what was stored", name, st.Header, st.Text)
		}
	}
	if n == 0 {
		t.Fatal("no messages")
	}
}

func short(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
