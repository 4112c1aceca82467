# Python's imaplib against the gateway, one IMAP extension per run:
#
#   python3 imaplib_extensions.py EXTENSION HOST:PORT CAFILE USER PASSWORD
#
# Each check asserts the server's answers as the RFC shapes them (response codes, untagged
# responses and their order where the RFC fixes it), not only the tagged OK. imaplib is used
# where it has the command; what it lacks (IDLE, LITERAL+, literal8, exact untagged lines)
# goes over the same connection with imaplib's own send and readline. Prints "ok".
import base64
import imaplib
import re
import ssl
import sys
import zlib

if not __debug__:
    sys.exit("the checks are asserts: run without -O or PYTHONOPTIMIZE")
ext, addr, cafile, user, pw = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False


def connect():
    m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
    ok(m.login(user, pw))
    m.sock.settimeout(30)
    return m


def ok(r):
    typ, data = r
    assert typ == "OK", (typ, data)
    return data


def caps(m):
    return ok(m.capability())[0].decode().upper().split()


def raw(m, tag, line, literal=None):
    """Sends one command line (and a non-synchronizing literal's data) and returns every
    line up to and including the tagged one, without line ends."""
    data = f"{tag} {line}\r\n".encode()
    if literal is not None:
        data += literal + b"\r\n"
    m.send(data)
    return read_until(m, tag)


def read_until(m, tag):
    lines = []
    while True:
        line = m.readline()
        assert line, ("connection closed", lines)
        lines.append(line.rstrip(b"\r\n"))
        if line.startswith(tag.encode() + b" "):
            return lines


def message(subject, body="hello", size=None):
    msg = f"From: py@example.org\r\nTo: {user}\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()
    if size is not None:
        msg = msg[:-2] + b"x" * (size - len(msg)) + b"\r\n"
        assert len(msg) == size
    return msg


def append(m, mailbox, msg, flags=None):
    """APPENDs msg and returns (UIDVALIDITY, UID) from APPENDUID."""
    data = ok(m.append(mailbox, flags, None, msg))
    mo = re.match(rb"\[APPENDUID (\d+) (\d+)\] ", data[0])
    assert mo, data
    return int(mo.group(1)), int(mo.group(2))


def status(m, mailbox, items):
    """Returns the STATUS items of mailbox as a dict of ints."""
    data = ok(m.status(mailbox, "(" + " ".join(items) + ")"))
    mo = re.match(rb'.*\((.*)\)$', data[0])
    assert mo, data
    words = mo.group(1).split()
    got = {words[i].decode(): int(words[i + 1]) for i in range(0, len(words), 2)}
    assert sorted(got) == sorted(items), (items, data)
    return got


def seqset(s):
    """Expands an IMAP sequence set such as 1:3,7 into a list, in the order written."""
    out = []
    for part in s.split(","):
        lo, _, hi = part.partition(":")
        lo, hi = int(lo), int(hi or lo)
        out += list(range(lo, hi + 1)) if lo <= hi else list(range(lo, hi - 1, -1))
    return out


def uids_of(m):
    data = ok(m.uid("SEARCH", None, "ALL"))
    return [int(u) for u in data[0].split()]


def check_literal_plus(m):
    """RFC 7888: LITERAL+ advertised; {n+} literals are taken without a continuation
    request, pipelined, in APPEND and in other commands."""
    assert "LITERAL+" in caps(m), caps(m)
    m1, m2 = message("first non-sync"), message("second non-sync")
    m.send(b"P1 APPEND INBOX {%d+}\r\n%s\r\nP2 APPEND INBOX (\\Seen) {%d+}\r\n%s\r\n"
           % (len(m1), m1, len(m2), m2))
    lines = read_until(m, "P1") + read_until(m, "P2")
    assert not any(l.startswith(b"+") for l in lines), ("continuation for a non-sync literal", lines)
    got = [re.match(rb"(P\d) OK \[APPENDUID (\d+) (\d+)\]", l) for l in lines if l.startswith(b"P")]
    assert all(got) and len(got) == 2, lines
    assert int(got[1].group(3)) == int(got[0].group(3)) + 1, lines
    ok(m.select("INBOX"))
    lines = raw(m, "P3", "UID SEARCH SUBJECT {14+}", b"second non-syn")
    assert lines == [b"* SEARCH " + got[1].group(3), b"P3 OK UID SEARCH completed"], lines
    data = ok(m.uid("FETCH", got[0].group(3).decode(), "(BODY.PEEK[])"))
    assert data[0][1] == m1, data


def check_idle(m):
    """RFC 2177: IDLE answers with a continuation request; another session's APPEND, flag
    change and EXPUNGE arrive as EXISTS, FETCH and EXPUNGE while idling; DONE ends it."""
    assert "IDLE" in caps(m)
    append(m, "INBOX", message("before idle"))
    ok(m.select("INBOX"))
    m.send(b"I1 IDLE\r\n")
    cont = m.readline()
    assert cont.startswith(b"+ "), cont
    other = connect()

    def wait_for(pattern):
        seen = []
        while True:
            line = m.readline()
            assert line, seen
            line = line.rstrip(b"\r\n")
            seen.append(line)
            if re.fullmatch(pattern, line):
                return line
            # Only \Recent bookkeeping may come in between (IMAP4rev1).
            assert re.fullmatch(rb"\* \d+ RECENT", line), (pattern, seen)

    append(other, "INBOX", message("during idle"))
    wait_for(rb"\* 2 EXISTS")
    ok(other.select("INBOX"))
    ok(other.store("2", "+FLAGS", "(\\Flagged)"))
    line = wait_for(rb"\* 2 FETCH \(.*\)")
    assert b"\\Flagged" in line and b"FLAGS (" in line, line
    ok(other.store("1", "+FLAGS", "(\\Deleted)"))
    wait_for(rb"\* 1 FETCH \(.*\\Deleted.*\)")
    ok(other.expunge())
    wait_for(rb"\* 1 EXPUNGE")
    m.send(b"DONE\r\n")
    lines = read_until(m, "I1")
    assert lines[-1].startswith(b"I1 OK"), lines
    other.logout()
    data = ok(m.fetch("1", "(FLAGS)"))
    assert b"\\Flagged" in data[0], data


def check_uidplus(m):
    """RFC 4315: APPENDUID and COPYUID carry the destination's UIDVALIDITY and the UIDs the
    server gave; UID EXPUNGE removes only the named \\Deleted messages."""
    assert "UIDPLUS" in caps(m)
    before = status(m, "INBOX", ["UIDVALIDITY", "UIDNEXT"])
    got = [append(m, "INBOX", message(f"uidplus {i}")) for i in range(4)]
    assert got == [(before["UIDVALIDITY"], before["UIDNEXT"] + i) for i in range(4)], (before, got)
    ok(m.create("Dest"))
    dest = status(m, "Dest", ["UIDVALIDITY", "UIDNEXT"])
    v, uid = append(m, "Dest", message("into dest"))
    assert (v, uid) == (dest["UIDVALIDITY"], dest["UIDNEXT"]), (dest, v, uid)

    ok(m.select("INBOX"))
    src = [u for _, u in got]
    m.response("COPYUID")
    ok(m.uid("COPY", f"{src[1]},{src[3]}", "Dest"))
    # imaplib files the tagged OK's response code under its name.
    _, data = m.response("COPYUID")
    mo = re.fullmatch(rb"(\d+) (\S+) (\S+)", data[0] or b"")
    assert mo, data
    assert int(mo.group(1)) == dest["UIDVALIDITY"], (dest, data)
    assert seqset(mo.group(2).decode()) == [src[1], src[3]], data
    assert seqset(mo.group(3).decode()) == [uid + 1, uid + 2], data
    assert status(m, "Dest", ["MESSAGES"])["MESSAGES"] == 3

    # UID EXPUNGE: three messages \Deleted, one named.
    ok(m.uid("STORE", f"{src[0]}:{src[2]}", "+FLAGS.SILENT", "(\\Deleted)"))
    m.response("EXPUNGE")
    ok(m.uid("EXPUNGE", str(src[1])))
    assert m.response("EXPUNGE")[1] == [b"2"], "UID EXPUNGE must expunge exactly the named message"
    assert uids_of(m) == [src[0], src[2], src[3]], uids_of(m)
    data = ok(m.uid("SEARCH", None, "DELETED"))
    assert data[0].split() == [str(src[0]).encode(), str(src[2]).encode()], data


def check_move(m):
    """RFC 6851: MOVE sends COPYUID in an untagged OK before the EXPUNGEs of the moved
    messages, then the tagged OK; the messages are in the destination and gone here. The
    session is IMAP4rev1: the EXPUNGEs of recent messages lower the RECENT count, which is
    sent after them (RFC 3501 §7.3.2)."""
    assert "MOVE" in caps(m)
    src = [append(m, "INBOX", message(f"move {i}"))[1] for i in range(3)]
    ok(m.create("Moved"))
    dest = status(m, "Moved", ["UIDVALIDITY", "UIDNEXT"])
    ok(m.select("INBOX"))
    lines = raw(m, "M1", f"UID MOVE {src[0]}:{src[1]} Moved")
    assert len(lines) == 5 and lines[3] == b"* 1 RECENT", lines
    mo = re.fullmatch(rb"\* OK \[COPYUID (\d+) (\S+) (\S+)\].*", lines[0])
    assert mo, lines
    assert int(mo.group(1)) == dest["UIDVALIDITY"], (dest, lines)
    assert seqset(mo.group(2).decode()) == src[:2], lines
    assert seqset(mo.group(3).decode()) == [dest["UIDNEXT"], dest["UIDNEXT"] + 1], lines
    # Apply the EXPUNGEs in the order sent: the message left must be the third.
    view = list(src)
    for line in lines[1:3]:
        e = re.fullmatch(rb"\* (\d+) EXPUNGE", line)
        assert e, lines
        del view[int(e.group(1)) - 1]
    assert view == [src[2]], (view, lines)
    assert lines[4].startswith(b"M1 OK"), lines
    assert uids_of(m) == [src[2]]
    assert status(m, "Moved", ["MESSAGES"])["MESSAGES"] == 2
    # A sequence-number MOVE of the last message empties the mailbox.
    lines = raw(m, "M2", "MOVE 1 Moved")
    assert re.fullmatch(rb"\* OK \[COPYUID \d+ %d %d\].*" % (src[2], dest["UIDNEXT"] + 2), lines[0]), lines
    assert lines[1:] == [b"* 1 EXPUNGE", b"* 0 RECENT", b"M2 OK MOVE completed"], lines


def esearch(lines, tag, uid=False):
    """Parses the one ESEARCH response of a command into a dict of its return data."""
    found = [l for l in lines if l.startswith(b"* ESEARCH")]
    assert len(found) == 1 and lines[-1].startswith(tag.encode() + b" OK"), lines
    head = b'* ESEARCH (TAG "%s")' % tag.encode()
    assert found[0].startswith(head), lines
    words = found[0][len(head):].split()
    if uid:
        assert words[:1] == [b"UID"], lines
        words = words[1:]
    else:
        assert b"UID" not in words, lines
    return {words[i].decode(): words[i + 1].decode() for i in range(0, len(words), 2)}


def check_esearch(m):
    """RFC 4731: SEARCH RETURN (MIN MAX COUNT ALL) answers one ESEARCH tagged with the
    command's tag, with UID for UID SEARCH; no match leaves only COUNT 0; RETURN () is ALL."""
    assert "ESEARCH" in caps(m)
    uids = [append(m, "INBOX", message(f"esearch {i}"), "(\\Flagged)" if i in (1, 3, 4) else None)[1]
            for i in range(6)]
    ok(m.select("INBOX"))
    ok(m.store("1", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(m.expunge())  # now sequence numbers and UIDs differ by one
    r = esearch(raw(m, "E1", "SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED"), "E1")
    assert r == {"MIN": "1", "MAX": "4", "COUNT": "3", "ALL": r["ALL"]}, r
    assert seqset(r["ALL"]) == [1, 3, 4], r
    r = esearch(raw(m, "E2", "UID SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED"), "E2", uid=True)
    assert {k: v for k, v in r.items() if k != "ALL"} == {
        "MIN": str(uids[1]), "MAX": str(uids[4]), "COUNT": "3"}, r
    assert seqset(r["ALL"]) == [uids[1], uids[3], uids[4]], r
    assert esearch(raw(m, "E3", "SEARCH RETURN (MIN MAX COUNT) SUBJECT nowhere"), "E3") == {"COUNT": "0"}
    assert esearch(raw(m, "E4", "SEARCH RETURN (MIN MAX) SUBJECT nowhere"), "E4") == {}
    r = esearch(raw(m, "E5", "SEARCH RETURN () UNFLAGGED"), "E5")
    assert list(r) == ["ALL"] and seqset(r["ALL"]) == [2, 5], r
    assert esearch(raw(m, "E6", "UID SEARCH RETURN (COUNT) ALL"), "E6", uid=True) == {"COUNT": "5"}
    # Without RETURN an IMAP4rev1 client still gets SEARCH.
    lines = raw(m, "E7", "SEARCH FLAGGED")
    assert lines == [b"* SEARCH 1 3 4", b"E7 OK SEARCH completed"], lines


def check_list_extended(m):
    """RFC 5258 (LIST-EXTENDED), 5819 (LIST-STATUS), 6154 (SPECIAL-USE): selection and
    return options, CHILDINFO, several patterns, and a STATUS after each listed mailbox."""
    c = caps(m)
    assert "LIST-EXTENDED" in c and "LIST-STATUS" in c and "SPECIAL-USE" in c, c
    ok(m.create("Projects/Alpha"))
    ok(m.create("Projects/Beta"))
    ok(m.subscribe("Projects/Alpha"))
    special = [b'* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
               b'* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
               b'* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
               b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
               b'* LIST (\\HasNoChildren \\Trash) "/" "Trash"']
    lines = raw(m, "L1", 'LIST (SPECIAL-USE) "" "*"')
    assert sorted(lines[:-1]) == special and lines[-1] == b"L1 OK LIST completed", lines
    lines = raw(m, "L2", 'LIST "" "*" RETURN (SPECIAL-USE)')
    assert set(special) <= set(lines), lines
    assert b'* LIST (\\HasNoChildren) "/" "Projects/Beta"' in lines, lines

    lines = raw(m, "L3", 'LIST (SUBSCRIBED) "" "Projects/*"')
    assert lines == [b'* LIST (\\HasNoChildren \\Subscribed) "/" "Projects/Alpha"', b"L3 OK LIST completed"], lines
    lines = raw(m, "L4", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "P%"')
    # The extended item's tag is an astring: CHILDINFO or "CHILDINFO".
    assert len(lines) == 2 and re.fullmatch(
        rb'\* LIST \(\\HasChildren\) "/" "Projects" \(("?)CHILDINFO\1 \("SUBSCRIBED"\)\)', lines[0]), lines
    assert lines[1] == b"L4 OK LIST completed", lines
    lines = raw(m, "L5", 'LIST (RECURSIVEMATCH) "" "%"')
    assert lines[-1].startswith(b"L5 BAD"), lines  # RECURSIVEMATCH needs another selection option
    lines = raw(m, "L6", 'LIST "" ("INBOX" "Projects/*")')
    assert lines == [b'* LIST (\\HasNoChildren) "/" INBOX',
                     b'* LIST (\\HasNoChildren) "/" "Projects/Alpha"',
                     b'* LIST (\\HasNoChildren) "/" "Projects/Beta"', b"L6 OK LIST completed"], lines

    append(m, "INBOX", message("one"))
    append(m, "INBOX", message("two"), "(\\Seen)")
    lines = raw(m, "L7", 'LIST "" "%" RETURN (STATUS (MESSAGES UNSEEN))')
    assert lines[-1] == b"L7 OK LIST completed", lines
    body = lines[:-1]
    assert len(body) % 2 == 0, lines
    for listed, st in zip(body[0::2], body[1::2]):
        name = re.fullmatch(rb'\* LIST \([^)]*\) "/" (.*)', listed)
        assert name, (listed, lines)
        assert st.startswith(b"* STATUS " + name.group(1) + b" ("), ("STATUS must follow its LIST", listed, st)
    assert b"* STATUS INBOX (MESSAGES 2 UNSEEN 1)" in body, lines


def check_namespace(m):
    """RFC 2342: one personal namespace, prefix "" and delimiter "/", no others."""
    assert "NAMESPACE" in caps(m)
    assert ok(m.namespace()) == [b'(("" "/")) NIL NIL']


def check_unselect(m):
    """RFC 3691: UNSELECT leaves the selected state without expunging \\Deleted messages."""
    assert "UNSELECT" in caps(m)
    append(m, "INBOX", message("keep me"))
    append(m, "INBOX", message("deleted but kept"))
    ok(m.select("INBOX"))
    ok(m.store("2", "+FLAGS.SILENT", "(\\Deleted)"))
    lines = raw(m, "U1", "UNSELECT")
    assert lines == [b"U1 OK UNSELECT completed"], lines
    lines = raw(m, "U2", "FETCH 1 (FLAGS)")
    assert lines[-1].startswith(b"U2 BAD"), ("FETCH after UNSELECT", lines)
    assert status(m, "INBOX", ["MESSAGES", "DELETED"]) == {"MESSAGES": 2, "DELETED": 1}
    # CLOSE, by contrast, expunges.
    ok(m.select("INBOX"))
    ok(m.close())
    assert status(m, "INBOX", ["MESSAGES"]) == {"MESSAGES": 1}
    lines = raw(m, "U3", "UNSELECT")
    assert lines[-1].startswith(b"U3 BAD"), ("UNSELECT without a selected mailbox", lines)


def check_enable(m):
    """RFC 5161: ENABLE lists in ENABLED only what it enabled; IMAP4rev2 (RFC 9051) drops
    \\Recent and the RECENT response and answers SEARCH with ESEARCH."""
    assert "ENABLE" in caps(m)
    append(m, "INBOX", message("enable"))
    lines = raw(m, "N1", "ENABLE X-NOT-AN-EXTENSION")
    assert lines == [b"* ENABLED", b"N1 OK ENABLE completed"], lines
    lines = raw(m, "N2", "ENABLE IMAP4rev2")
    assert lines == [b"* ENABLED IMAP4rev2", b"N2 OK ENABLE completed"], lines
    lines = raw(m, "N3", "SELECT INBOX")
    assert b"* 1 EXISTS" in lines and not any(l.endswith(b" RECENT") for l in lines), lines
    lines = raw(m, "N4", "FETCH 1 (FLAGS)")
    assert lines[0] == b"* 1 FETCH (FLAGS ())" or lines[0] == b"* 1 FETCH (UID 1 FLAGS ())", lines
    lines = raw(m, "N5", "SEARCH ALL")
    assert lines == [b'* ESEARCH (TAG "N5") ALL 1', b"N5 OK SEARCH completed"], lines
    # ENABLE belongs to the authenticated state.
    fresh = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
    lines = raw(fresh, "N6", "ENABLE IMAP4rev2")
    assert lines[-1].startswith(b"N6 BAD"), lines
    fresh.logout()


def modseqs(lines):
    """Maps the UID of each untagged FETCH in lines to its MODSEQ."""
    out = {}
    for l in lines:
        mo = re.match(rb"\* \d+ FETCH \(.*UID (\d+).*MODSEQ \((\d+)\)", l)
        if mo:
            out[int(mo.group(1))] = int(mo.group(2))
    return out


def highestmodseq(lines):
    for l in lines:
        mo = re.match(rb"\* OK \[HIGHESTMODSEQ (\d+)\]", l)
        if mo:
            return int(mo.group(1))
    raise AssertionError(("no HIGHESTMODSEQ", lines))


def check_condstore(m):
    """RFC 7162 §3.1: HIGHESTMODSEQ on SELECT (CONDSTORE) and STATUS, FETCH MODSEQ and
    CHANGEDSINCE, MODSEQ with every flag update, STORE UNCHANGEDSINCE refusing what another
    session changed ([MODIFIED]), and SEARCH MODSEQ."""
    assert "CONDSTORE" in caps(m)
    for i in range(3):
        append(m, "INBOX", message(f"condstore {i}"))
    lines = raw(m, "C1", "SELECT INBOX (CONDSTORE)")
    assert lines[-1].startswith(b"C1 OK [READ-WRITE]"), lines
    h0 = highestmodseq(lines)
    lines = raw(m, "C2", "UID FETCH 1:* (MODSEQ)")
    base = modseqs(lines)
    assert sorted(base) == [1, 2, 3] and max(base.values()) <= h0, lines
    lines = raw(m, "C3", "UID STORE 1 +FLAGS (\\Flagged)")
    assert re.match(rb"\* 1 FETCH \(UID 1 FLAGS \((\\Recent )?\\Flagged\) MODSEQ \(\d+\)\)$", lines[0]), lines
    m1 = modseqs(lines)[1]
    assert m1 > h0, lines
    other = connect()
    ok(other.select("INBOX"))
    ok(other.uid("STORE", "2", "+FLAGS.SILENT", "(\\Answered)"))
    other.logout()
    # Messages 1 and 2 changed since h0: only 3 is stored; 2's change comes with its MODSEQ.
    lines = raw(m, "C4", f"STORE 1:3 (UNCHANGEDSINCE {h0}) +FLAGS.SILENT (\\Seen)")
    assert lines[-1] == b"C4 OK [MODIFIED 1:2] STORE completed", lines
    got = modseqs([l for l in lines if b"UID 2 " in l])
    assert got and got[2] > m1, lines
    assert any(re.match(rb"\* 3 FETCH \(MODSEQ \(\d+\)\)$", l) for l in lines), lines
    lines = raw(m, "C5", "FETCH 1:3 (FLAGS)")
    assert b"\\Seen" not in lines[0] + lines[1] and b"\\Seen" in lines[2], lines
    # CHANGEDSINCE: only what changed after the MODSEQ, with MODSEQ.
    lines = raw(m, "C6", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {m1})")
    changed = modseqs(lines)
    assert sorted(changed) == [2, 3] and all(v > m1 for v in changed.values()), lines
    lines = raw(m, "C7", f"SEARCH MODSEQ {m1 + 1}")
    assert lines[0] == b"* SEARCH 2 3 (MODSEQ %d)" % max(changed.values()), lines
    lines = raw(m, "C8", f"UID SEARCH RETURN (MIN) MODSEQ {m1 + 1}")
    assert lines[0] == b'* ESEARCH (TAG "C8") UID MIN 2 MODSEQ %d' % changed[2], lines
    st = status(m, "INBOX", ["HIGHESTMODSEQ"])
    assert st["HIGHESTMODSEQ"] == max(changed.values()), st
    # UNCHANGEDSINCE 0 changes nothing.
    lines = raw(m, "C9", "STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
    assert lines == [b"C9 OK [MODIFIED 1] STORE completed"], lines


def check_qresync(m):
    """RFC 7162 §3.2: after another session expunged and changed flags, SELECT (QRESYNC …)
    answers VANISHED (EARLIER) with the expunged UIDs and FETCH with the changed flags;
    expunges are then VANISHED, never EXPUNGE; UID FETCH (CHANGEDSINCE n VANISHED)."""
    assert "QRESYNC" in caps(m)
    lines = raw(m, "Q0", "SELECT INBOX (QRESYNC (1 1))")
    assert lines[-1].startswith(b"Q0 BAD"), lines  # QRESYNC needs ENABLE first
    lines = raw(m, "Q1", "ENABLE QRESYNC")
    assert lines == [b"* ENABLED QRESYNC", b"Q1 OK ENABLE completed"], lines
    for i in range(5):
        append(m, "INBOX", message(f"qresync {i}"))
    lines = raw(m, "Q2", "SELECT INBOX")
    uv = int(re.search(rb"UIDVALIDITY (\d+)", b" ".join(lines)).group(1))
    h = highestmodseq(lines)
    assert raw(m, "Q2a", "UNSELECT")[-1].startswith(b"Q2a OK")
    other = connect()
    ok(other.select("INBOX"))
    ok(other.uid("STORE", "2,4", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(other.expunge())
    ok(other.uid("STORE", "3", "+FLAGS.SILENT", "($Work)"))
    lines = raw(m, "Q3", f"SELECT INBOX (QRESYNC ({uv} {h} 1:5))")
    assert lines[-1].startswith(b"Q3 OK [READ-WRITE]"), lines
    assert b"* 3 EXISTS" in lines and b"* VANISHED (EARLIER) 2,4" in lines, lines
    fetches = [l for l in lines if b" FETCH " in l]
    assert len(fetches) == 1 and re.match(rb"\* 2 FETCH \(UID 3 FLAGS \(\$Work\) MODSEQ \(\d+\)\)$", fetches[0]), lines
    # A SELECT that replaces the selected mailbox says CLOSED first.
    lines = raw(m, "Q4", f"SELECT INBOX (QRESYNC ({uv} {h}))")
    assert lines[0] == b"* OK [CLOSED] Previous mailbox is now closed", lines
    # Another expunge: VANISHED, not EXPUNGE.
    ok(other.uid("STORE", "5", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(other.expunge())
    other.logout()
    lines = raw(m, "Q5", "NOOP")
    assert b"* VANISHED 5" in lines and not any(l.endswith(b" EXPUNGE") for l in lines), lines
    lines = raw(m, "Q6", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h} VANISHED)")
    assert lines[0] == b"* VANISHED (EARLIER) 2,4:5", lines
    assert len(lines) == 3 and b"UID 3 " in lines[1], lines
    lines = raw(m, "Q7", f"FETCH 1:* (FLAGS) (CHANGEDSINCE {h} VANISHED)")
    assert lines[-1].startswith(b"Q7 BAD"), lines  # VANISHED needs UID FETCH


def check_appendlimit(m):
    """RFC 7889: APPENDLIMIT=N; a message of N octets is taken, one octet more is refused
    with NO [TOOBIG] before its literal is sent, and the session goes on."""
    limits = [c for c in caps(m) if c.startswith("APPENDLIMIT=")]
    assert len(limits) == 1, caps(m)
    limit = int(limits[0].split("=")[1])
    append(m, "INBOX", message("at the limit", size=limit))
    typ, data = m.append("INBOX", None, None, message("over the limit", size=limit + 1))
    assert typ == "NO" and data[0].startswith(b"[TOOBIG]"), (typ, data)
    ok(m.noop())
    assert status(m, "INBOX", ["MESSAGES"]) == {"MESSAGES": 1}


def check_binary(m):
    """RFC 3516: APPEND takes a literal8 with NUL octets; FETCH BINARY[] returns the
    decoded content (literal8 where it holds NUL), BINARY.SIZE its decoded size, a partial
    BINARY its octets; an unknown transfer encoding answers NO [UNKNOWN-CTE]."""
    assert "BINARY" in caps(m)
    nul = b"Subject: nul\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\nA\x00B\r\n"
    m.send(b"B1 APPEND INBOX ~{%d}\r\n" % len(nul))
    cont = m.readline()
    assert cont.startswith(b"+"), cont
    m.send(nul + b"\r\n")
    lines = read_until(m, "B1")
    assert re.fullmatch(rb"B1 OK \[APPENDUID \d+ 1\].*", lines[-1]), lines
    blob = bytes(range(256))
    mime = (b"Subject: bin\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
            b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(blob).replace(b"\n", b"\r\n") + b"--b--\r\n")
    append(m, "INBOX", mime)
    weird = b"Subject: weird\r\nContent-Transfer-Encoding: x-weird\r\n\r\nabc\r\n"
    append(m, "INBOX", weird)
    ok(m.select("INBOX"))

    data = ok(m.fetch("1", "(BINARY.PEEK[1] BINARY.SIZE[1])"))
    assert re.fullmatch(rb"1 \((UID 1 )?BINARY\[1\] ~\{5\}", data[0][0]), data
    assert data[0][1] == b"A\x00B\r\n", data
    assert data[1] == b" BINARY.SIZE[1] 5)", data
    data = ok(m.fetch("2", "(BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[2])"))
    parts = {re.search(rb"(BINARY\[2\]|BODY\[2\])[^\[]*$", d[0]).group(1): d[1] for d in data if isinstance(d, tuple)}
    assert parts[b"BINARY[2]"] == blob, data
    # The line end before a boundary belongs to the boundary (RFC 2046 §5.1.1).
    assert parts[b"BODY[2]"] == base64.encodebytes(blob).replace(b"\n", b"\r\n")[:-2], data
    assert b"BINARY.SIZE[2] 256" in b"".join(d if isinstance(d, bytes) else d[0] for d in data), data
    data = ok(m.fetch("2", "(BINARY.PEEK[2]<1.3>)"))
    assert data[0][1] == b"\x01\x02\x03", data
    data = ok(m.fetch("2", "(BINARY[1])"))
    assert data[0][1] == b"hi", data
    flags = ok(m.fetch("2", "(FLAGS)"))
    assert b"\\Seen" in flags[0], ("BINARY without .PEEK sets \\Seen", flags)
    typ, data = m.fetch("3", "(BINARY.PEEK[1])")
    assert typ == "NO" and data[0].startswith(b"[UNKNOWN-CTE]"), (typ, data)


def check_status_size(m):
    """RFC 8438: STATUS SIZE is the total of the messages' RFC822.SIZE."""
    assert "STATUS=SIZE" in caps(m)
    assert status(m, "INBOX", ["SIZE", "MESSAGES"]) == {"SIZE": 0, "MESSAGES": 0}
    a, b = message("size one", "x" * 100), message("size two", "y" * 1000)
    append(m, "INBOX", a)
    append(m, "INBOX", b)
    assert status(m, "INBOX", ["SIZE"]) == {"SIZE": len(a) + len(b)}
    ok(m.select("INBOX"))
    data = ok(m.fetch("1:*", "(RFC822.SIZE)"))
    sizes = [int(re.search(rb"RFC822\.SIZE (\d+)", d).group(1)) for d in data]
    assert sizes == [len(a), len(b)], data
    ok(m.store("1", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(m.expunge())
    assert status(m, "INBOX", ["SIZE"]) == {"SIZE": len(b)}


def check_children(m):
    """RFC 3348: \\HasChildren and \\HasNoChildren, exactly one of them, follow the
    hierarchy as it changes."""
    assert "CHILDREN" in caps(m)
    ok(m.create("Parent/Child"))
    lines = raw(m, "C1", 'LIST "" "Parent*"')
    assert lines == [b'* LIST (\\HasChildren) "/" "Parent"', b'* LIST (\\HasNoChildren) "/" "Parent/Child"',
                     b"C1 OK LIST completed"], lines
    lines = raw(m, "C2", 'LIST "" "%"')
    assert b'* LIST (\\HasChildren) "/" "Parent"' in lines, lines
    for l in lines[:-1]:
        attrs = re.match(rb"\* LIST \(([^)]*)\)", l).group(1).split()
        assert (b"\\HasChildren" in attrs) != (b"\\HasNoChildren" in attrs), l
    ok(m.delete("Parent/Child"))
    lines = raw(m, "C3", 'LIST "" "Parent*"')
    assert lines == [b'* LIST (\\HasNoChildren) "/" "Parent"', b"C3 OK LIST completed"], lines


def check_overquota(m):
    """RFC 9208 §5: APPEND and COPY past the account's storage quota answer NO [OVERQUOTA]
    and store nothing; space freed by EXPUNGE can be used again. The account's quota is
    1,000 octets (set by the test)."""
    first = message("fits", size=600)
    append(m, "INBOX", first)
    typ, data = m.append("INBOX", None, None, message("too much", size=500))
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    ok(m.select("INBOX"))
    typ, data = m.copy("1", "INBOX")
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    assert status(m, "INBOX", ["MESSAGES", "SIZE"]) == {"MESSAGES": 1, "SIZE": len(first)}
    ok(m.store("1", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(m.expunge())
    append(m, "INBOX", message("fits again", size=500))


def check_copy_nothing(m):
    """RFC 9051 §6.4.9: a UID COPY whose UIDs are all gone answers OK, without COPYUID (its
    UID sets cannot be empty, RFC 4315 §4); a sequence number past EXISTS is BAD."""
    append(m, "INBOX", message("only one"))
    ok(m.select("INBOX"))
    lines = raw(m, "K1", "UID COPY 999 INBOX")
    assert len(lines) == 1 and lines[0].startswith(b"K1 OK") and b"COPYUID" not in lines[0], lines
    lines = raw(m, "K2", "COPY 5 INBOX")
    assert len(lines) == 1 and lines[0].startswith(b"K2 BAD"), lines
    assert status(m, "INBOX", ["MESSAGES"]) == {"MESSAGES": 1}


def check_search_expunged(m):
    """RFC 9051 §7.5.1: no EXPUNGE while answering SEARCH, so a message another session
    expunged is still in this session's view: SEARCH counts it, or says OK [EXPUNGEISSUED]
    (RFC 9051 §7.1) that its answer may lack it."""
    append(m, "INBOX", message("expunged elsewhere"))
    append(m, "INBOX", message("stays"))
    ok(m.select("INBOX"))
    other = connect()
    ok(other.select("INBOX"))
    ok(other.store("1", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(other.expunge())
    other.logout()
    lines = raw(m, "S1", "SEARCH ALL")
    assert not any(l.endswith(b" EXPUNGE") for l in lines), lines
    assert lines[-1].startswith(b"S1 OK"), lines
    assert b"* SEARCH 1 2" in lines or lines[-1].startswith(b"S1 OK [EXPUNGEISSUED]"), lines


def check_multiappend(m):
    """RFC 3502: one APPEND with several messages stores them all and answers APPENDUID with
    their UID set; one whose second message is refused stores neither."""
    assert "MULTIAPPEND" in caps(m)
    a, b = message("first"), message("second")
    m.send(f"M1 APPEND INBOX (\\Seen) {{{len(a)}+}}\r\n".encode() + a + f" {{{len(b)}+}}\r\n".encode() + b + b"\r\n")
    lines = read_until(m, "M1")
    mo = re.match(rb"M1 OK \[APPENDUID (\d+) (\S+)\] ", lines[-1])
    assert len(lines) == 1 and mo, lines
    assert seqset(mo.group(2).decode()) == [1, 2], lines
    m.send(f"M2 APPEND INBOX {{{len(a)}+}}\r\n".encode() + a + f" (\\Recent) {{{len(b)}+}}\r\n".encode() + b + b"\r\n")
    lines = read_until(m, "M2")
    assert lines[-1].startswith(b"M2 BAD"), lines
    assert status(m, "INBOX", ["MESSAGES"]) == {"MESSAGES": 2}
    ok(m.select("INBOX"))
    got = ok(m.fetch("1:2", "(FLAGS)"))
    assert len(got) == 2 and b"\\Seen" in got[0] and b"\\Seen" not in got[1], got


def check_searchres(m):
    """RFC 5182: SEARCH RETURN (SAVE) answers only OK; "$" is its result in later commands,
    follows expunges, and is empty again after SELECT."""
    assert "SEARCHRES" in caps(m)
    for i in range(3):
        append(m, "INBOX", message(f"res {i}"))
    ok(m.select("INBOX"))
    ok(m.store("2:3", "+FLAGS.SILENT", "(\\Flagged)"))
    lines = raw(m, "R1", "SEARCH RETURN (SAVE) FLAGGED")
    assert len(lines) == 1 and lines[0].startswith(b"R1 OK"), lines
    lines = raw(m, "R2", "UID FETCH $ (FLAGS)")
    assert [l.split()[1] for l in lines[:-1]] == [b"2", b"3"] and lines[-1].startswith(b"R2 OK"), lines
    ok(m.store("2", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(m.expunge())
    assert raw(m, "R3", "SEARCH $")[0] == b"* SEARCH 2"
    ok(m.select("INBOX"))
    assert raw(m, "R4", "SEARCH $")[0] == b"* SEARCH"


def check_within(m):
    """RFC 5032: OLDER and YOUNGER n match internal dates n seconds back from now."""
    assert "WITHIN" in caps(m)
    ok(m.append("INBOX", None, '"01-Jan-2020 12:00:00 +0000"', message("old")))
    append(m, "INBOX", message("new"))
    ok(m.select("INBOX"))
    assert ok(m.search(None, "YOUNGER", "3600")) == [b"2"]
    assert ok(m.search(None, "OLDER", "3600")) == [b"1"]
    assert ok(m.search(None, "OR", "OLDER", "86400", "YOUNGER", "86400")) == [b"1 2"]
    lines = raw(m, "W1", "SEARCH YOUNGER 0")
    assert lines[-1].startswith(b"W1 BAD"), lines


def check_catenate(m):
    """RFC 4469: APPEND CATENATE joins TEXT literals and IMAP URL parts of the user's own
    messages; a URL naming no message answers NO [BADURL] and stores nothing."""
    assert "CATENATE" in caps(m)
    append(m, "INBOX", message("source", body="kept body"))
    ok(m.select("INBOX"))
    text = b"\r\nnew body\r\n"
    m.send(b'T1 APPEND INBOX CATENATE (URL "/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT)" TEXT {'
           + str(len(text)).encode() + b"+}\r\n" + text + b")\r\n")
    lines = read_until(m, "T1")
    assert lines[-1].startswith(b"T1 OK [APPENDUID "), lines
    got = ok(m.fetch("2", "(BODY.PEEK[])"))
    assert got[0][1] == b"Subject: source\r\n\r\n" + text, got
    lines = raw(m, "T2", 'APPEND INBOX CATENATE (URL "/INBOX/;UID=7")')
    assert lines[-1].startswith(b"T2 NO [BADURL /INBOX/;UID=7]"), lines
    assert status(m, "INBOX", ["MESSAGES"]) == {"MESSAGES": 2}


def check_compress(m):
    """RFC 4978: after COMPRESS DEFLATE's OK both directions are raw deflate (zlib with
    wbits=-15, each side flushing with Z_SYNC_FLUSH); a second COMPRESS answers
    NO [COMPRESSIONACTIVE]. imaplib has no COMPRESS: its SSL socket is used directly."""
    assert "COMPRESS=DEFLATE" in caps(m)
    append(m, "INBOX", message("deflated", body="line of text\r\n" * 500))
    lines = raw(m, "Z1", "COMPRESS DEFLATE")
    assert lines == [b"Z1 OK DEFLATE active"], lines
    out, inflate = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
    pending = b""

    def fill(enough):
        nonlocal pending
        while not enough():
            chunk = m.sock.recv(65536)
            assert chunk, "connection closed"
            pending += inflate.decompress(chunk)

    def response_line():
        """One response line, the bytes of its literals included."""
        nonlocal pending
        fill(lambda: b"\r\n" in pending)
        line, pending = pending.split(b"\r\n", 1)
        mo = re.search(rb"\{(\d+)\}$", line)
        if not mo:
            return line
        n = int(mo.group(1))
        fill(lambda: len(pending) >= n)
        literal, pending = pending[:n], pending[n:]
        return line + literal + response_line()

    def cmd(tag, line):
        m.sock.sendall(out.compress(f"{tag} {line}\r\n".encode()) + out.flush(zlib.Z_SYNC_FLUSH))
        got = [response_line()]
        while not got[-1].startswith(tag.encode() + b" "):
            got.append(response_line())
        return got

    assert cmd("Z2", "SELECT INBOX")[-1].startswith(b"Z2 OK")
    got = cmd("Z3", "FETCH 1 BODY.PEEK[TEXT]")
    assert got[-1].startswith(b"Z3 OK") and got[0].count(b"line of text") == 500, got
    got = cmd("Z4", "COMPRESS DEFLATE")
    assert got == [b"Z4 NO [COMPRESSIONACTIVE] DEFLATE is already active"], got
    assert cmd("Z5", "LOGOUT")[-1].startswith(b"Z5 OK")
    sys.stdout.write("ok\n")
    sys.exit(0)


m = connect()
globals()["check_" + ext.replace("-", "_")](m)
m.logout()
print("ok")
