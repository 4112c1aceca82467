package sortthread_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/imapserver/sortthread"
)

// Dovecot's imaptest scripts for SORT, ESORT, PARTIAL and THREAD are the judge: each script
// is replayed here against the package (APPEND, STORE \Deleted and EXPUNGE on a slice of
// messages, SORT and THREAD through the package) and every expected untagged line must
// come out exactly. The scripts are read from the kit's tests/ ($SEALGATE_IMAPTEST_KIT, else
// /tmp/imaptest-kit), else from the imaptest source tarball in shared/peers/imaptest/ in a
// directory above the repository (no build needed: they are text).

func imaptestDir(t *testing.T) string {
	t.Helper()
	kit := os.Getenv("SEALGATE_IMAPTEST_KIT")
	if kit == "" {
		kit = "/tmp/imaptest-kit"
	}
	dir := filepath.Join(kit, "tests")
	if _, err := os.Stat(filepath.Join(dir, "thread")); err == nil {
		return dir
	}
	if dir := imaptestFromTarball(t); dir != "" {
		return dir
	}
	if os.Getenv("SEALGATE_REQUIRE_PEERS") != "" {
		t.Fatalf("imaptest scripts not found in %s nor in a shared/peers/imaptest tarball, and SEALGATE_REQUIRE_PEERS is set", dir)
	}
	t.Skipf("imaptest scripts not found in %s nor in a shared/peers/imaptest tarball", dir)
	return ""
}

// imaptestFromTarball extracts the scripted tests of the imaptest source tarball found in
// shared/peers/imaptest/ above the working directory; "" when there is none.
func imaptestFromTarball(t *testing.T) string {
	t.Helper()
	var tarball string
	dir, _ := filepath.Abs(".")
	for ; tarball == "" && dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		m, _ := filepath.Glob(filepath.Join(dir, "shared", "peers", "imaptest", "imaptest-*.tar.gz"))
		if len(m) > 0 {
			tarball = m[0]
		}
	}
	if tarball == "" {
		return ""
	}
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", tarball, err)
	}
	out := t.TempDir()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", tarball, err)
		}
		_, name, ok := strings.Cut(h.Name, "/src/tests/")
		if !ok || h.Typeflag != tar.TypeReg || strings.Contains(name, "/") {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			t.Fatalf("%s: %v", tarball, err)
		}
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestImaptestScripts(t *testing.T) {
	dir := imaptestDir(t)
	scripts := []string{
		"esort", "sort-addresses", "sort-arrival", "sort-date", "sort-display-from",
		"sort-display-to", "sort-partial", "sort-size", "sort-subject",
		"thread", "thread-orderedsubject", "thread-orderedsubject2", "thread2", "thread3",
		"thread4", "thread5", "thread6", "thread7", "thread8",
	}
	for _, name := range scripts {
		t.Run(name, func(t *testing.T) { runScript(t, dir, name) })
	}
}

// mboxMessage is one message of an imaptest .mbox file.
type mboxMessage struct {
	internal time.Time
	raw      []byte // CRLF line ends, as APPEND sends it
}

func readMbox(t *testing.T, path string) []mboxMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []mboxMessage
	var cur *mboxMessage
	var lines []string
	flush := func() {
		if cur == nil {
			return
		}
		if n := len(lines); n > 0 && lines[n-1] == "" {
			lines = lines[:n-1] // the blank line that separates messages
		}
		cur.raw = []byte(strings.Join(lines, "\r\n") + "\r\n")
		out = append(out, *cur)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "From "); ok {
			flush()
			f := strings.Fields(rest)
			date := strings.Join(f[1:], " ")
			var tm time.Time
			for _, layout := range []string{"Mon Jan _2 15:04:05 2006 -0700", "Mon Jan _2 15:04:05 2006"} {
				if tm, err = time.Parse(layout, date); err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("%s: From line %q: %v", path, line, err)
			}
			cur, lines = &mboxMessage{internal: tm}, nil
			continue
		}
		lines = append(lines, line)
	}
	flush()
	return out
}

// mailbox is the messages of the selected mailbox as the script changes them.
type mailbox struct {
	source  []mboxMessage
	next    int
	msgs    []sortthread.Message
	deleted map[uint32]bool
	uidNext uint32
}

func (mb *mailbox) append(t *testing.T) {
	t.Helper()
	if mb.next >= len(mb.source) {
		t.Fatal("append: mbox exhausted")
	}
	src := mb.source[mb.next]
	mb.next++
	mb.uidNext++
	m := sortthread.Message{
		Seq:          uint32(len(mb.msgs) + 1),
		UID:          mb.uidNext,
		InternalDate: src.internal,
		Size:         int64(len(src.raw)),
	}
	m.ParseHeader(src.raw)
	mb.msgs = append(mb.msgs, m)
}

func (mb *mailbox) expunge() {
	kept := mb.msgs[:0]
	for _, m := range mb.msgs {
		if !mb.deleted[m.Seq] {
			m.Seq = uint32(len(kept) + 1)
			kept = append(kept, m)
		}
	}
	mb.msgs = kept
	mb.deleted = map[uint32]bool{}
}

// search is the tiny subset of SEARCH the scripts use: ALL or one range.
func (mb *mailbox) search(t *testing.T, key string) []sortthread.Message {
	t.Helper()
	if strings.EqualFold(key, "all") {
		return mb.msgs
	}
	lo, hi, ok := strings.Cut(key, ":")
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || a < 1 || b > len(mb.msgs) {
		t.Fatalf("search key %q not supported by the replay", key)
	}
	return mb.msgs[a-1 : b]
}

// token is an atom or a parenthesised list of atoms.
type token struct {
	atom string
	list []string
}

func tokenize(s string) []token {
	var out []token
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '(' {
			end := strings.IndexByte(s, ')')
			out = append(out, token{list: strings.Fields(s[1:end])})
			s = s[end+1:]
			continue
		}
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			end = len(s)
		}
		out = append(out, token{atom: s[:end]})
		s = s[end:]
	}
	return out
}

func runScript(t *testing.T, dir, name string) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(data), "\n\n")
	mboxPath := filepath.Join(dir, name+".mbox")
	if _, err := os.Stat(mboxPath); err != nil {
		mboxPath = filepath.Join(dir, "default.mbox")
	}
	mb := &mailbox{source: readMbox(t, mboxPath), deleted: map[uint32]bool{}}
	created := false
	count := len(mb.source)
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "state":
			created = v == "created"
		case "messages":
			if v != "all" {
				if count, err = strconv.Atoi(v); err != nil {
					t.Fatalf("messages: %q", v)
				}
			}
		}
	}
	if !created {
		for range count {
			mb.append(t)
		}
	}

	lines := strings.Split(body, "\n")
	checked := 0
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		status, cmd, _ := strings.Cut(line, " ")
		var expect []string
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "* ") {
			i++
			expect = append(expect, lines[i])
		}
		got, err := mb.run(t, cmd)
		switch status {
		case "bad":
			if !errors.Is(err, sortthread.ErrSyntax) {
				t.Errorf("%s: want a syntax error, got %v", cmd, err)
			}
			checked++
			continue
		case "ok":
			if err != nil {
				t.Errorf("%s: %v", cmd, err)
				continue
			}
		default:
			t.Fatalf("status %q not supported by the replay", status)
		}
		for _, want := range expect {
			want = strings.ReplaceAll(want, "$tag", "T")
			if !strings.EqualFold(got, want) {
				t.Errorf("%s\n got: %s\nwant: %s", cmd, got, want)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("script checked nothing")
	}
}

// run replays one command and returns the untagged line SORT or THREAD would send.
func (mb *mailbox) run(t *testing.T, cmd string) (string, error) {
	toks := tokenize(cmd)
	switch strings.ToLower(toks[0].atom) {
	case "append":
		mb.append(t)
	case "select":
	case "store":
		for _, s := range strings.Split(toks[1].atom, ",") {
			n, _ := strconv.Atoi(s)
			mb.deleted[uint32(n)] = true
		}
	case "expunge":
		mb.expunge()
	case "sort":
		toks = toks[1:]
		var ret *sortthread.Return
		if strings.EqualFold(toks[0].atom, "return") {
			r, err := sortthread.ParseReturn(toks[1].list)
			if err != nil {
				return "", err
			}
			ret, toks = &r, toks[2:]
		}
		crit, err := sortthread.ParseCriteria(toks[0].list)
		if err != nil {
			return "", err
		}
		res := sortthread.Sort(mb.search(t, toks[2].atom), crit, sortthread.NumSeq)
		if ret != nil {
			return string(ret.AppendData([]byte("* ESEARCH (TAG T)"), res)), nil
		}
		b := []byte("* SORT")
		for _, n := range res {
			b = fmt.Appendf(b, " %d", n)
		}
		return string(b), nil
	case "thread":
		alg, err := sortthread.ParseAlgorithm(toks[1].atom)
		if err != nil {
			return "", err
		}
		threads := sortthread.Threads(mb.search(t, toks[3].atom), alg)
		return string(sortthread.AppendThreads([]byte("* THREAD "), threads, sortthread.NumSeq)), nil
	default:
		t.Fatalf("command %q not supported by the replay", cmd)
	}
	return "", nil
}
