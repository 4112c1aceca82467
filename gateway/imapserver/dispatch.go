package imapserver

import (
	"encoding/base64"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
)

// handler runs a command whose name has been read; it reads the arguments itself, from the
// space after the name to the line end.
type handler func(s *session, cmd *command) error

// commandSpec is a command of the dispatch table: its handler and the states it is valid in.
type commandSpec struct {
	run handler
	// in: the lowest state the command is valid in; selectedOnly for commands on messages.
	in           connState
	notAuthOnly  bool
	selectedOnly bool
}

// commands is the dispatch table. Names of UID commands include "UID ".
var commands = map[string]commandSpec{
	"CAPABILITY":   {run: (*session).cmdCapability},
	"NOOP":         {run: (*session).cmdNoop},
	"LOGOUT":       {run: (*session).cmdLogout},
	"ID":           {run: (*session).cmdID},
	"STARTTLS":     {run: (*session).startTLS, notAuthOnly: true},
	"LOGIN":        {run: (*session).cmdLogin, notAuthOnly: true},
	"AUTHENTICATE": {run: (*session).cmdAuthenticate, notAuthOnly: true},
	"ENABLE":       {run: (*session).cmdEnable, in: stateAuthenticated},
	"COMPRESS":     {run: (*session).cmdCompress, in: stateAuthenticated},
	"SELECT":       {run: (*session).cmdSelect, in: stateAuthenticated},
	"EXAMINE":      {run: (*session).cmdSelect, in: stateAuthenticated},
	"CREATE":       {run: (*session).cmdCreate, in: stateAuthenticated},
	"DELETE":       {run: (*session).cmdMailbox, in: stateAuthenticated},
	"SUBSCRIBE":    {run: (*session).cmdMailbox, in: stateAuthenticated},
	"UNSUBSCRIBE":  {run: (*session).cmdMailbox, in: stateAuthenticated},
	"RENAME":       {run: (*session).cmdRename, in: stateAuthenticated},
	"LIST":         {run: (*session).cmdList, in: stateAuthenticated},
	"LSUB":         {run: (*session).cmdLsub, in: stateAuthenticated},
	"NAMESPACE":    {run: (*session).cmdNamespace, in: stateAuthenticated},
	"STATUS":       {run: (*session).cmdStatus, in: stateAuthenticated},
	"APPEND":       {run: (*session).cmdAppend, in: stateAuthenticated},
	"IDLE":         {run: (*session).idle, in: stateAuthenticated},
	"GETQUOTA":     {run: (*session).cmdGetQuota, in: stateAuthenticated},
	"GETQUOTAROOT": {run: (*session).cmdGetQuotaRoot, in: stateAuthenticated},
	"CHECK":        {run: (*session).cmdNoop, in: stateSelected, selectedOnly: true},
	"CLOSE":        {run: (*session).cmdClose, in: stateSelected, selectedOnly: true},
	"UNSELECT":     {run: (*session).cmdClose, in: stateSelected, selectedOnly: true},
	"EXPUNGE":      {run: (*session).cmdExpunge, in: stateSelected, selectedOnly: true},
	"UID EXPUNGE":  {run: (*session).cmdExpunge, in: stateSelected, selectedOnly: true},
	"SEARCH":       {run: (*session).cmdSearch, in: stateSelected, selectedOnly: true},
	"UID SEARCH":   {run: (*session).cmdSearch, in: stateSelected, selectedOnly: true},
	"FETCH":        {run: (*session).cmdFetch, in: stateSelected, selectedOnly: true},
	"UID FETCH":    {run: (*session).cmdFetch, in: stateSelected, selectedOnly: true},
	"STORE":        {run: (*session).cmdStore, in: stateSelected, selectedOnly: true},
	"UID STORE":    {run: (*session).cmdStore, in: stateSelected, selectedOnly: true},
	"COPY":         {run: (*session).cmdCopy, in: stateSelected, selectedOnly: true},
	"UID COPY":     {run: (*session).cmdCopy, in: stateSelected, selectedOnly: true},
	"MOVE":         {run: (*session).cmdCopy, in: stateSelected, selectedOnly: true},
	"UID MOVE":     {run: (*session).cmdCopy, in: stateSelected, selectedOnly: true},
	"SORT":         {run: (*session).cmdSort, in: stateSelected, selectedOnly: true},
	"UID SORT":     {run: (*session).cmdSort, in: stateSelected, selectedOnly: true},
	"THREAD":       {run: (*session).cmdThread, in: stateSelected, selectedOnly: true},
	"UID THREAD":   {run: (*session).cmdThread, in: stateSelected, selectedOnly: true},
}

func badState(text string) error {
	return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: text}
}

// dispatch runs cmd if the session's state allows it. A command refused here has its
// arguments (and any literal in them) dropped unread.
func (s *session) dispatch(cmd *command) error {
	spec, ok := commands[cmd.name]
	if !ok {
		if s.state == stateNotAuthenticated {
			// One unknown command before login ends the connection: a cross-protocol
			// attack (an HTTP request sent to the IMAP port) gets no further.
			s.enc.Status("*", "BYE", "", "Unknown command")
			s.enc.Flush()
			return errSessionOver
		}
		return badState("Unknown command")
	}
	switch {
	case spec.notAuthOnly && s.state != stateNotAuthenticated:
		return badState("Already authenticated")
	case spec.selectedOnly && s.state != stateSelected:
		return badState("No mailbox selected")
	case spec.in == stateAuthenticated && s.state == stateNotAuthenticated:
		return badState("Not authenticated")
	}
	if strings.HasPrefix(cmd.name, "UID ") {
		cmd.kind = numUID
	}
	return spec.run(s, cmd)
}

// args reads the space between a command's name and its arguments.
func (s *session) args() error { return s.dec.SP() }

func (s *session) cmdCapability(cmd *command) error {
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	s.enc.Untagged().Raw("CAPABILITY ").Raw(s.capabilities()).CRLF()
	return nil
}

func (s *session) cmdNoop(cmd *command) error { return s.dec.CRLF() }

func (s *session) cmdLogout(cmd *command) error {
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	s.enc.Status("*", "BYE", "", "Logging out")
	s.state = stateLogout
	cmd.noPoll = true
	return nil
}

// cmdID answers ID (RFC 2971): the client's identification is logged, the server names
// itself.
func (s *session) cmdID(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	params, err := s.dec.ReadIDParams()
	if err != nil {
		return err
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	if len(params) > 0 {
		attrs := []any{"protocol", "imap", "session", s.id, "client", s.client}
		for _, k := range []string{"name", "version", "vendor", "os", "os-version", "support-url"} {
			if v, ok := params[k]; ok {
				attrs = append(attrs, "id-"+k, v)
			}
		}
		s.srv.log.Info("client id", attrs...)
	}
	s.enc.Untagged().Raw(`ID ("name" "Sealgate")`).CRLF()
	return nil
}

func (s *session) cmdLogin(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	user, err := s.dec.ReadAString(imapwire.MaxSmallLiteral)
	if err != nil {
		return err
	}
	if err := s.args(); err != nil {
		return err
	}
	pw, err := s.dec.ReadAString(imapwire.MaxSmallLiteral)
	if err != nil {
		return err
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	if !s.canAuth() {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodePrivacyRequired, Text: "TLS is required to log in"}
	}
	if err := s.Login(user, pw); err != nil {
		return err
	}
	s.state = stateAuthenticated
	cmd.okCode, cmd.okText = "CAPABILITY "+s.capabilities(), "Logged in"
	return nil
}

// cmdAuthenticate runs AUTHENTICATE PLAIN (RFC 4616), with an initial response (SASL-IR,
// RFC 4959) or after an empty challenge.
func (s *session) cmdAuthenticate(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	mech, err := s.dec.ReadAtom()
	if err != nil {
		return err
	}
	var initial string
	hasInitial := false
	if ok, err := s.dec.Accept(' '); err != nil {
		return err
	} else if ok {
		if initial, err = s.dec.ReadChars("initial response", func(c byte) bool { return imapwire.IsAtomChar(c) || c == '=' }); err != nil {
			return err
		}
		hasInitial = true
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	if !s.canAuth() {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodePrivacyRequired, Text: "TLS is required to authenticate"}
	}
	if !strings.EqualFold(mech, "PLAIN") {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Unsupported SASL mechanism"}
	}
	if !hasInitial {
		s.enc.Raw("+ \r\n") // PLAIN's empty challenge
		if err := s.enc.Flush(); err != nil {
			return err
		}
		line, err := s.dec.ReadLine()
		if err != nil {
			return err
		}
		if line == "*" {
			return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "AUTHENTICATE cancelled"}
		}
		initial = line
	}
	resp := []byte{}
	if initial != "=" {
		if resp, err = base64.StdEncoding.DecodeString(initial); err != nil {
			return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: "Invalid base64"}
		}
	}
	identity, user, pw, ok := splitPlain(resp)
	if !ok {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: "Malformed PLAIN response"}
	}
	if identity != "" && !strings.EqualFold(identity, user) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed, Text: "SASL identity not supported"}
	}
	if err := s.Login(user, pw); err != nil {
		return err
	}
	s.state = stateAuthenticated
	cmd.okCode, cmd.okText = "CAPABILITY "+s.capabilities(), "PLAIN authentication successful"
	return nil
}

// splitPlain splits a PLAIN response: authzid NUL authcid NUL password.
func splitPlain(b []byte) (identity, user, pw string, ok bool) {
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 3 || parts[1] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// cmdEnable turns on IMAP4rev2 (RFC 9051 §6.3.1); other capabilities are ignored as RFC 5161
// asks. The ENABLED response lists what this command turned on.
func (s *session) cmdEnable(cmd *command) error {
	var names []string
	for {
		if ok, err := s.dec.Accept(' '); err != nil {
			return err
		} else if !ok {
			break
		}
		name, err := s.dec.ReadAtom()
		if err != nil {
			return err
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return &imapwire.CommandError{Msg: "ENABLE needs a capability"}
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	s.enc.Untagged().Raw("ENABLED")
	for _, n := range names {
		if strings.EqualFold(n, "IMAP4rev2") && !s.rev2 {
			s.rev2 = true
			s.enc.UTF8 = true
			if s.sel != nil {
				s.sel.recent = nil // IMAP4rev2 has no \Recent
			}
			s.enc.Raw(" IMAP4rev2")
		}
		if on := s.enableModSeq(n); on != "" {
			s.enc.SP().Raw(on)
		}
	}
	s.enc.CRLF()
	return nil
}

// utf8 reports whether the client sends mailbox names as UTF-8.
func (s *session) utf8() bool { return s.enc.UTF8 }

// readMailboxArg reads the space and a mailbox name. A name that is not valid modified
// UTF-7 names no mailbox there can be: NO, not BAD, for it is well-formed IMAP.
func (s *session) readMailboxArg() (string, error) {
	if err := s.args(); err != nil {
		return "", err
	}
	name, err := s.dec.ReadAString(imapwire.MaxSmallLiteral)
	if err != nil {
		return "", err
	}
	if name, err = imapwire.DecodeMailbox(name, s.utf8()); err != nil {
		return "", errBadMailboxName
	}
	return name, nil
}

// errBadMailboxName refuses a name that is not valid modified UTF-7. The command's line
// has been read to the name: the refusal drops its rest.
var errBadMailboxName = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Invalid mailbox name"}

func (s *session) cmdSelect(cmd *command) error {
	name, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	params, err := s.dec.ReadSelectParams()
	if err != nil {
		return err
	}
	if err := s.selectModSeq(params); err != nil {
		return err
	}
	if s.state == stateSelected {
		s.sel = nil
		s.state = stateAuthenticated
		s.enc.Status("*", "OK", "CLOSED", "Previous mailbox is now closed")
	}
	readOnly := cmd.name == "EXAMINE"
	data, err := s.Select(name, &imap.SelectOptions{ReadOnly: readOnly})
	if err != nil {
		return err
	}
	e := s.enc
	writeFlags(e.Untagged().Raw("FLAGS "), data.Flags)
	e.CRLF()
	s.writeExists(data.NumMessages)
	if s.rev1() {
		s.writeRecent(data.NumRecent)
		if data.FirstUnseenSeqNum != 0 {
			e.Untagged().Raw("OK [UNSEEN ").Number(data.FirstUnseenSeqNum).Raw("] First unseen").CRLF()
		}
	}
	e.Untagged().Raw("OK [UIDVALIDITY ").Number(data.UIDValidity).Raw("] UIDs valid").CRLF()
	e.Untagged().Raw("OK [UIDNEXT ").Number(uint32(data.UIDNext)).Raw("] Predicted next UID").CRLF()
	writeFlags(e.Untagged().Raw("OK [PERMANENTFLAGS "), data.PermanentFlags)
	e.Raw("] Flags permitted").CRLF()
	e.Untagged().Raw("LIST () \"/\" ").Mailbox(s.sel.mb.Name).CRLF()
	s.writeHighestModSeq(s.sel.modseq)
	s.state = stateSelected
	if err := s.qresyncSelect(params.QResync); err != nil {
		return err
	}
	cmd.okCode, cmd.okText = "READ-WRITE", cmd.name+" completed"
	if readOnly {
		cmd.okCode = "READ-ONLY"
	}
	cmd.noPoll = true
	return nil
}

func (s *session) cmdClose(cmd *command) error {
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	if cmd.name == "CLOSE" && !s.sel.readOnly {
		// CLOSE removes \Deleted messages silently (RFC 9051 §6.4.1).
		if err := s.Expunge(nil, nil); err != nil {
			return err
		}
	}
	s.sel = nil
	s.state = stateAuthenticated
	cmd.noPoll = true
	return nil
}

func (s *session) cmdNamespace(cmd *command) error {
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	s.enc.Untagged().Raw(`NAMESPACE (("" "/")) NIL NIL`).CRLF()
	return nil
}

func (s *session) cmdCreate(cmd *command) error {
	name, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	var opts imap.CreateOptions
	if ok, err := s.dec.Accept(' '); err != nil {
		return err
	} else if ok {
		// RFC 6154 §3: (USE (\Sent …))
		err := s.dec.ReadList(func() error {
			kw, err := s.dec.ReadAtom()
			if err != nil {
				return err
			}
			if !strings.EqualFold(kw, "USE") {
				return &imapwire.CommandError{Msg: "unknown CREATE parameter " + kw}
			}
			if err := s.dec.SP(); err != nil {
				return err
			}
			flags, err := s.dec.ReadFlagList()
			for _, f := range flags {
				opts.SpecialUse = append(opts.SpecialUse, imap.MailboxAttr(f))
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	return s.Create(name, &opts)
}

// cmdMailbox runs the commands whose one argument is a mailbox name.
func (s *session) cmdMailbox(cmd *command) error {
	name, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	switch cmd.name {
	case "DELETE":
		return s.Delete(name)
	case "SUBSCRIBE":
		return s.Subscribe(name)
	default:
		return s.Unsubscribe(name)
	}
}

func (s *session) cmdRename(cmd *command) error {
	from, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	to, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	return s.Rename(from, to)
}

// listNames decodes LIST's reference and patterns. A pattern that is not valid modified
// UTF-7 matches no mailbox (there is none by that name) rather than failing the command.
func (s *session) listNames(ref string, patterns []string) (string, []string) {
	if r, err := imapwire.DecodeMailbox(ref, s.utf8()); err == nil {
		ref = r
	}
	out := patterns[:0]
	for _, p := range patterns {
		if d, err := imapwire.DecodeMailbox(p, s.utf8()); err == nil {
			out = append(out, d)
		}
	}
	return ref, out
}

func (s *session) cmdList(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	l, err := s.dec.ReadListArgs()
	if err != nil {
		return err
	}
	ref, patterns := s.listNames(l.Ref, l.Patterns)
	if len(l.Patterns) == 1 && l.Patterns[0] == "" {
		// RFC 9051 §6.3.9: an empty pattern asks for the hierarchy delimiter and root.
		return listWriter{s: s}.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	if len(patterns) == 0 {
		return nil
	}
	return s.List(listWriter{s: s}, ref, patterns, &l.Options)
}

func (s *session) cmdLsub(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	l, err := s.dec.ReadListArgs()
	if err != nil {
		return err
	}
	if l.Extended {
		return &imapwire.CommandError{Msg: "LSUB takes no options"}
	}
	ref, patterns := s.listNames(l.Ref, l.Patterns)
	if len(patterns) == 0 {
		return nil
	}
	return s.Lsub(listWriter{s: s, lsub: true}, ref, patterns)
}

func (s *session) cmdStatus(cmd *command) error {
	name, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	if err := s.args(); err != nil {
		return err
	}
	items, err := s.dec.ReadStatusItems()
	if err != nil {
		return err
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	data, err := s.Status(name, items)
	if err != nil {
		return err
	}
	return s.writeStatus(data)
}

func uitoa(n uint64) string { return string(appendUint(nil, n)) }

// readNumSet reads the space and the sequence set after a command's name; "$" is the saved
// search result (SEARCHRES).
func (s *session) readNumSet(cmd *command) (imap.NumSet, error) {
	if err := s.args(); err != nil {
		return nil, err
	}
	set, err := s.dec.ReadNumSet(cmd.kind == numUID)
	if err != nil {
		return nil, err
	}
	return s.sel.numSet(set), nil
}

func (s *session) cmdExpunge(cmd *command) error {
	var uids *imap.UIDSet
	if cmd.kind == numUID {
		set, err := s.readNumSet(cmd)
		if err != nil {
			return err
		}
		u := set.(imap.UIDSet)
		uids = &u
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	return s.Expunge(s.writeExpunge, uids)
}

func (s *session) cmdSearch(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	sa, err := s.dec.ReadSearch(cmd.kind == numUID)
	if err != nil {
		return err
	}
	s.sel.useSaved(&sa.Criteria)
	var data *imap.SearchData
	if sa.Charset != "" && !strings.EqualFold(sa.Charset, "UTF-8") && !strings.EqualFold(sa.Charset, "US-ASCII") {
		err = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeBadCharset, Text: "Only UTF-8 is supported"}
	} else {
		data, err = s.Search(cmd.kind, &sa.Criteria, &sa.Return)
	}
	if sa.Return.ReturnSave { // a failed SEARCH saves the empty set (RFC 5182 §2.1)
		s.sel.save(cmd.kind, data, &sa.Return)
	}
	if err != nil || onlySave(&sa.Return) {
		return err
	}
	var ret *imap.SearchOptions
	switch {
	case sa.Extended:
		ret = &sa.Return
	case s.rev2:
		// RFC 9051 §7.3.4: an IMAP4rev2 client is answered with ESEARCH, as if it had asked
		// RETURN (ALL).
		ret = &imap.SearchOptions{ReturnAll: true}
	}
	return s.writeSearch(cmd.tag, cmd.kind, data, ret)
}

func (s *session) cmdFetch(cmd *command) error {
	set, err := s.readNumSet(cmd)
	if err != nil {
		return err
	}
	if err := s.args(); err != nil {
		return err
	}
	f, err := s.dec.ReadFetch()
	if err != nil {
		return err
	}
	if cmd.kind == numUID {
		f.Options.UID = true
	}
	if f.Options.ModSeq || f.Vanished {
		if err := s.fetchModSeq(cmd, set, f); err != nil {
			return err
		}
	}
	return s.Fetch(set, f)
}

func (s *session) cmdStore(cmd *command) error {
	set, err := s.readNumSet(cmd)
	if err != nil {
		return err
	}
	if err := s.args(); err != nil {
		return err
	}
	st, err := s.dec.ReadStore()
	if err != nil {
		return err
	}
	if st.HasUnchanged {
		cmd.okCode, err = s.storeUnchangedSince(set, cmd.kind == numUID, &st.Flags, st.UnchangedSince)
		return err
	}
	_, err = s.Store(set, cmd.kind == numUID, &st.Flags, 0)
	return err
}

func (s *session) cmdCopy(cmd *command) error {
	set, err := s.readNumSet(cmd)
	if err != nil {
		return err
	}
	dest, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	if strings.HasSuffix(cmd.name, "MOVE") {
		return s.Move(set, dest)
	}
	data, err := s.Copy(set, dest)
	if err != nil {
		return err
	}
	if data.UIDValidity != 0 {
		cmd.okCode = "COPYUID " + uitoa(uint64(data.UIDValidity)) + " " + data.SourceUIDs.String() + " " + data.DestUIDs.String()
		cmd.okText = "COPY completed"
	}
	return nil
}
