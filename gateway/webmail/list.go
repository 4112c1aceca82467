package webmail

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/usermsg"
)

// pageSize is how many messages a list page shows.
const pageSize = 50

type folderView struct {
	Name       string
	SpecialUse string
	Unseen     uint32
	Messages   uint32
	UIDNext    uint32
}

type row struct {
	UID      uint32
	From     string
	FromAddr string
	Subject  string
	Date     time.Time
	Size     int64
	Seen     bool
	Flagged  bool
	Secure   string // "encrypted", "signed", "bad" or ""
	Sender   usermsg.SenderCheck
}

type listData struct {
	Rows       []row
	Page       int
	Pages      int
	Total      int
	Sort       string
	Query      string
	UIDNext    uint32
	PrevURL    string
	NextURL    string
	SortURL    map[string]string
	Targets    []string // folders to move to
	IsTrash    bool
	Descending bool
}

func (s *Server) folders(ctx context.Context, userID int64) ([]folderView, error) {
	mbs, err := s.opts.Store.Mailboxes(ctx, userID)
	if err != nil {
		return nil, err
	}
	rank := func(m mailstore.Mailbox) int {
		if strings.EqualFold(m.Name, "INBOX") {
			return 0
		}
		for i, d := range mailstore.DefaultMailboxes {
			if d.Name == m.Name {
				return i + 1
			}
		}
		return 100
	}
	slices.SortStableFunc(mbs, func(a, b mailstore.Mailbox) int { return rank(a) - rank(b) })
	out := make([]folderView, 0, len(mbs))
	for _, mb := range mbs {
		c, err := s.opts.Store.MailboxStatus(ctx, mb.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, folderView{Name: mb.Name, SpecialUse: mb.SpecialUse, Unseen: c.Unseen, Messages: c.Messages, UIDNext: c.UIDNext})
	}
	return out, nil
}

// mailbox finds the current user's mailbox named in the query ("box"), INBOX by default.
func (s *Server) mailbox(r *http.Request, name string) (mailstore.Mailbox, error) {
	if name == "" {
		name = "INBOX"
	}
	return s.opts.Store.MailboxByName(r.Context(), sessionOf(r).user.ID, name)
}

// openBox is mailbox for a page about that folder: when there is none it answers the request
// (404 for a folder that does not exist) and reports false.
func (s *Server) openBox(w http.ResponseWriter, r *http.Request, name string) (mailstore.Mailbox, bool) {
	mb, err := s.mailbox(r, name)
	if errors.Is(err, mailstore.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "No such folder.")
		return mb, false
	}
	if err != nil {
		s.internal(w, r, "mailbox", err)
		return mb, false
	}
	return mb, true
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	q := r.URL.Query()
	mb, ok := s.openBox(w, r, q.Get("box"))
	if !ok {
		return
	}
	folders, err := s.folders(ctx, sess.user.ID)
	if err != nil {
		s.internal(w, r, "folders", err)
		return
	}
	msgs, err := s.opts.Store.Messages(ctx, mb.ID)
	if err != nil {
		s.internal(w, r, "messages", err)
		return
	}
	query := strings.TrimSpace(q.Get("q"))
	sortBy := q.Get("sort")
	desc := q.Get("order") != "asc"
	// A search and a sort by sender or subject read the index for the messages it covers and
	// the messages themselves for the rest (pending).
	var pending map[int64]pendingMsg
	if query != "" || sortBy == "from" || sortBy == "subject" {
		sortField := ""
		if sortBy == "from" || sortBy == "subject" {
			sortField = sortBy
		}
		if pending, err = s.pending(ctx, mb, query, sortField); err != nil {
			s.internal(w, r, "index", err)
			return
		}
	}
	if query != "" {
		hits, err := s.opts.Store.SearchTextUIDs(ctx, mb.ID, mailstore.FieldText, query)
		if err != nil {
			s.internal(w, r, "search", err)
			return
		}
		msgs = slices.DeleteFunc(msgs, func(m mailstore.Message) bool {
			if p, ok := pending[m.BodyID]; ok {
				return !p.match
			}
			return !hits[m.UID]
		})
	}
	if err := s.sortMessages(ctx, mb.ID, msgs, pending, sortBy, desc); err != nil {
		s.internal(w, r, "sort", err)
		return
	}
	pages := max(1, (len(msgs)+pageSize-1)/pageSize)
	pg, _ := strconv.Atoi(q.Get("page"))
	pg = min(max(pg, 1), pages)
	pageMsgs := msgs[(pg-1)*pageSize : min(pg*pageSize, len(msgs))]
	rows, err := s.rows(ctx, mb.ID, pageMsgs)
	if err != nil {
		s.internal(w, r, "headers", err)
		return
	}
	d := listData{Rows: rows, Page: pg, Pages: pages, Total: len(msgs), Sort: sortBy, Query: query, UIDNext: mb.UIDNext,
		Descending: desc, SortURL: map[string]string{}, IsTrash: mb.SpecialUse == `\Trash`}
	link := func(p int, sortBy string, desc bool) string {
		v := url.Values{"box": {mb.Name}}
		if query != "" {
			v.Set("q", query)
		}
		if sortBy != "" && sortBy != "date" {
			v.Set("sort", sortBy)
		}
		if !desc {
			v.Set("order", "asc")
		}
		if p > 1 {
			v.Set("page", strconv.Itoa(p))
		}
		return "/mail/?" + v.Encode()
	}
	if pg > 1 {
		d.PrevURL = link(pg-1, sortBy, desc)
	}
	if pg < pages {
		d.NextURL = link(pg+1, sortBy, desc)
	}
	for _, k := range []string{"date", "from", "subject", "size"} {
		cur := sortBy == k || sortBy == "" && k == "date"
		d.SortURL[k] = link(1, k, !(cur && desc))
	}
	for _, f := range folders {
		if f.Name != mb.Name {
			d.Targets = append(d.Targets, f.Name)
		}
	}
	title := mb.Name
	if query != "" {
		title = "Search: " + query
	}
	s.render(w, r, "list", page{Title: title, Box: mb.Name, Query: query, Folders: folders, Data: d, Notice: q.Get("notice")})
}

// sortMessages orders msgs by date (the arrival time), size, sender or subject.
// Headers come from the index, or from pending for the messages it does not cover yet.
func (s *Server) sortMessages(ctx context.Context, mailboxID int64, msgs []mailstore.Message, pending map[int64]pendingMsg, by string, desc bool) error {
	var cmp func(a, b mailstore.Message) int
	switch by {
	case "size":
		cmp = func(a, b mailstore.Message) int { return int(a.Size - b.Size) }
	case "from", "subject":
		hdrs, err := s.opts.Store.SearchHeaders(ctx, mailboxID, 1, ^uint32(0))
		if err != nil {
			return err
		}
		key := map[uint32]string{}
		for uid, h := range hdrs {
			key[uid] = strings.ToLower(headerLine(h, by))
		}
		for _, m := range msgs {
			if p, ok := pending[m.BodyID]; ok {
				key[m.UID] = p.key
			}
		}
		cmp = func(a, b mailstore.Message) int { return strings.Compare(key[a.UID], key[b.UID]) }
	default:
		cmp = func(a, b mailstore.Message) int { return a.InternalDate.Compare(b.InternalDate) }
	}
	slices.SortStableFunc(msgs, func(a, b mailstore.Message) int {
		c := cmp(a, b)
		if c == 0 {
			c = int(a.UID) - int(b.UID)
		}
		if desc {
			return -c
		}
		return c
	})
	return nil
}

// headerLine is the value of the first "Name: value" line of a decoded header text.
func headerLine(h, name string) string {
	for _, line := range strings.Split(h, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// rows reads the header sections of msgs.
func (s *Server) rows(ctx context.Context, mailboxID int64, msgs []mailstore.Message) ([]row, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	lo, hi := msgs[0].UID, msgs[0].UID
	for _, m := range msgs {
		lo, hi = min(lo, m.UID), max(hi, m.UID)
	}
	raw, err := s.opts.Store.RawHeaders(ctx, mailboxID, lo, hi)
	if err != nil {
		return nil, err
	}
	out := make([]row, 0, len(msgs))
	for _, m := range msgs {
		hb, ok := raw[m.UID]
		if !ok {
			if hb, err = s.readHeader(ctx, m.BodyID); err != nil {
				return nil, err
			}
		}
		h := usermsg.ParseHeader(hb)
		rw := row{UID: m.UID, Subject: h.Subject, Date: m.InternalDate, Size: m.Size,
			Seen: m.Flags&mailstore.FlagSeen != 0, Flagged: m.Flags&mailstore.FlagFlagged != 0}
		if !h.Date.IsZero() {
			rw.Date = h.Date
		}
		if len(h.From) > 0 {
			rw.From, rw.FromAddr = h.From[0].Display(), h.From[0].Address
		}
		rw.Sender = usermsg.ReadSenderCheck(h.AuthResults, s.opts.Hostname)
		switch sec := h.Security; {
		case sec.Signature == "fail":
			rw.Secure = "bad"
		case sec.Received == "pgp" || sec.Received == "smime":
			rw.Secure = "encrypted"
		case sec.Signature == "pass":
			rw.Secure = "signed"
		}
		out = append(out, rw)
	}
	return out, nil
}

func (s *Server) readHeader(ctx context.Context, bodyID int64) ([]byte, error) {
	rc, _, err := s.opts.Store.OpenBody(ctx, bodyID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return mailindex.ReadRawHeader(bufioReader(rc))
}

// status is the JSON the list page polls for new mail.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	folders, err := s.folders(r.Context(), sess.user.ID)
	if err != nil {
		s.log.Error("webmail: status", "err", err)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	type folder struct {
		Name     string `json:"name"`
		Unseen   uint32 `json:"unseen"`
		Messages uint32 `json:"messages"`
		UIDNext  uint32 `json:"uidnext"`
	}
	out := struct {
		Folders []folder `json:"folders"`
	}{Folders: []folder{}}
	for _, f := range folders {
		out.Folders = append(out.Folders, folder{f.Name, f.Unseen, f.Messages, f.UIDNext})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
