package webmail

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/sealgate/sealgate/gateway/usermsg"
)

// page is what every template gets.
type page struct {
	Title   string
	User    string
	CSRF    string
	Error   string
	Notice  string
	Box     string // the current mailbox
	Query   string // the current search
	Folders []folderView
	Storage string // the account's storage used (and limit), under the folders
	Form    map[string]string
	Data    any
}

var pageNames = []string{"login", "error", "list", "read", "compose", "keys"}

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"size":  humanSize,
		"date":  shortDate,
		"full":  func(t time.Time) string { return t.Format("Mon, 2 Jan 2006 15:04:05 -0700") },
		"addrs": joinAddresses,
		"add":   func(a, b int) int { return a + b },
		"blen":  func(b []byte) int64 { return int64(len(b)) },
	}
	s.tmpl = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("webmail: template %s: %w", name, err)
		}
		s.tmpl[name] = t
	}
	return nil
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	if p.User == "" {
		if sess, ok := r.Context().Value(ctxKey{}).(*session); ok {
			p.User = sess.user.Address
			p.CSRF = sess.csrf
		}
	}
	if sess, ok := r.Context().Value(ctxKey{}).(*session); ok && p.Folders != nil {
		p.Storage = s.storage(r.Context(), sess.user.ID)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	var buf bytes.Buffer
	if err := s.tmpl[name].ExecuteTemplate(&buf, "page", p); err != nil {
		s.log.Error("webmail: render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Write(buf.Bytes())
}

// storage says what the account's messages take and its limit; "" when the store cannot
// tell (the page shows without it).
func (s *Server) storage(ctx context.Context, userID int64) string {
	q, err := s.opts.Store.Quota(ctx, userID)
	if err != nil {
		s.log.Warn("webmail: quota", "err", err)
		return ""
	}
	if q.Limit <= 0 {
		return humanSize(q.Used) + " used"
	}
	return fmt.Sprintf("%s of %s used (%d%%)", humanSize(q.Used), humanSize(q.Limit), min(100, 100*q.Used/q.Limit))
}

func humanSize(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.0f KB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
}

func shortDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	now := time.Now()
	switch {
	case t.Year() == now.Year() && t.YearDay() == now.YearDay():
		return t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("2 Jan")
	}
	return t.Format("2 Jan 2006")
}

func joinAddresses(as []usermsg.Address) string {
	out := ""
	for i, a := range as {
		if i > 0 {
			out += ", "
		}
		out += a.String()
	}
	return out
}
