package webmail

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// action changes messages of one folder: op is move (to "to"), delete (to Trash; in Trash,
// expunge), seen, unseen, flag or unflag.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	box := r.PostFormValue("box")
	mb, ok := s.openBox(w, r, box)
	if !ok {
		return
	}
	var uids []uint32
	for _, v := range r.PostForm["uid"] {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			s.fail(w, r, http.StatusBadRequest, "Bad message number.")
			return
		}
		uids = append(uids, uint32(n))
	}
	back := "/mail/?" + url.Values{"box": {mb.Name}}.Encode()
	if len(uids) == 0 {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	op := r.PostFormValue("op")
	flag := func(op mailstore.FlagOp, f mailstore.Flags) error {
		_, err := s.opts.Store.UpdateFlags(ctx, mb.ID, uids, mailstore.FlagChange{Op: op, Flags: f})
		return err
	}
	var err error
	notice := ""
	switch op {
	case "seen":
		err = flag(mailstore.FlagsAdd, mailstore.FlagSeen)
	case "unseen":
		err = flag(mailstore.FlagsRemove, mailstore.FlagSeen)
	case "flag":
		err = flag(mailstore.FlagsAdd, mailstore.FlagFlagged)
	case "unflag":
		err = flag(mailstore.FlagsRemove, mailstore.FlagFlagged)
	case "move", "delete":
		var dst mailstore.Mailbox
		if op == "move" {
			dst, err = s.mailbox(r, r.PostFormValue("to"))
			notice = "Moved to " + dst.Name + "."
		} else {
			dst, err = s.trash(r, sess.user.ID)
			notice = "Moved to Trash."
		}
		switch {
		case errors.Is(err, mailstore.ErrNotFound):
			s.fail(w, r, http.StatusNotFound, "No such folder to move to.")
			return
		case err != nil:
		case op == "delete" && dst.ID == mb.ID:
			// Already in Trash: delete for good.
			if err = flag(mailstore.FlagsAdd, mailstore.FlagDeleted); err == nil {
				_, err = s.opts.Store.ExpungeDeleted(ctx, mb.ID, uids)
			}
			notice = "Deleted."
		case dst.ID != mb.ID:
			_, err = s.opts.Store.CopyMessages(ctx, mb.ID, dst.ID, uids, true)
		}
	default:
		s.fail(w, r, http.StatusBadRequest, "Unknown action.")
		return
	}
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		s.internal(w, r, "action "+op, err)
		return
	}
	s.changed(sess.user.ID)
	if notice != "" {
		back += "&" + url.Values{"notice": {notice}}.Encode()
	} else if next := r.PostFormValue("return"); next == "read" && len(uids) == 1 {
		back = "/mail/read?" + url.Values{"box": {mb.Name}, "uid": {strconv.FormatUint(uint64(uids[0]), 10)}}.Encode()
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// trash is the user's \Trash mailbox, else the one named Trash.
func (s *Server) trash(r *http.Request, userID int64) (mailstore.Mailbox, error) {
	mbs, err := s.opts.Store.Mailboxes(r.Context(), userID)
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	for _, m := range mbs {
		if m.SpecialUse == `\Trash` {
			return m, nil
		}
	}
	return s.opts.Store.MailboxByName(r.Context(), userID, "Trash")
}
