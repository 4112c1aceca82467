package webmail

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// session is a logged-in browser. Only its random id leaves the server.
type session struct {
	id       string
	user     mailstore.User
	csrf     string
	created  time.Time
	lastSeen time.Time
}

type sessionStore struct {
	mu        sync.Mutex
	byID      map[string]*session
	idle, max time.Duration
	now       func() time.Time
}

func newSessionStore(idle, max time.Duration, now func() time.Time) *sessionStore {
	return &sessionStore{byID: map[string]*session{}, idle: idle, max: max, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (st *sessionStore) create(u mailstore.User) *session {
	now := st.now()
	s := &session{id: randomToken(), user: u, csrf: randomToken(), created: now, lastSeen: now}
	st.mu.Lock()
	defer st.mu.Unlock()
	for id, o := range st.byID { // sweep expired sessions while we hold the lock anyway
		if st.expired(o, now) {
			delete(st.byID, id)
		}
	}
	st.byID[s.id] = s
	return s
}

func (st *sessionStore) expired(s *session, now time.Time) bool {
	return now.Sub(s.lastSeen) > st.idle || now.Sub(s.created) > st.max
}

func (st *sessionStore) get(id string) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.byID[id]
	if s == nil {
		return nil
	}
	now := st.now()
	if st.expired(s, now) {
		delete(st.byID, id)
		return nil
	}
	s.lastSeen = now
	return s
}

func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.byID, id)
}

// Cookie names: with TLS the __Host- prefix makes browsers insist on Secure, Path=/ and no
// Domain, so a sibling host cannot set or read it.
func cookieName(r *http.Request, base string) string {
	if isTLS(r) {
		return "__Host-" + base
	}
	return base
}

func setCookie(w http.ResponseWriter, r *http.Request, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r, base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: isTLS(r), SameSite: http.SameSiteStrictMode,
	})
}

type ctxKey struct{}

func sessionOf(r *http.Request) *session { return r.Context().Value(ctxKey{}).(*session) }

// authed requires a session; a POST also needs the session's CSRF token and a same-origin
// Origin (when the browser sends one).
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var sess *session
		if c, err := r.Cookie(cookieName(r, "sealgate_session")); err == nil {
			sess = s.sessions.get(c.Value)
		}
		if sess == nil {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/mail/api/") {
				http.Redirect(w, r, "/mail/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) || !s.checkCSRF(r, sess.csrf) {
				s.log.Warn("webmail: CSRF check failed", "user", sess.user.Address, "path", r.URL.Path)
				s.fail(w, r, http.StatusForbidden, "This request did not come from a Sealgate page (missing or wrong security token). Reload the page and try again.")
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess)))
	}
}

// sameOrigin refuses a request whose Origin header names another site.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not sent by every browser for every request; the token still decides
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// maxFormMemory is how much of a multipart form is kept in memory; the rest spills to disk.
const maxFormMemory = 8 << 20

func (s *Server) checkCSRF(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		r.Body = http.MaxBytesReader(nil, r.Body, s.opts.MaxMessageSize+1<<20)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			if err := r.ParseMultipartForm(maxFormMemory); err != nil {
				return false
			}
		}
		got = r.PostFormValue("csrf")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName(r, "sealgate_session")); err == nil && s.sessions.get(c.Value) != nil {
		http.Redirect(w, r, "/mail/", http.StatusSeeOther)
		return
	}
	if !s.passwordAllowed(r) {
		s.showLogin(w, r, http.StatusOK, "", msgNeedTLS)
		return
	}
	s.showLogin(w, r, http.StatusOK, "", "")
}

// msgNeedTLS is the login form's answer over plain HTTP where passwords are not taken.
const msgNeedTLS = "This connection is not encrypted, so web mail does not take passwords over it. Use the https:// address of this server."

// showLogin renders the login form with a fresh login token (double-submit: cookie and form
// must agree), which stops a third site from logging the browser into its own account.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, code int, user, msg string) {
	tok := randomToken()
	setCookie(w, r, "sealgate_login", tok, 3600)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	s.render(w, r, "login", page{Title: "Log in", CSRF: tok, Error: msg, Form: map[string]string{"user": user}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	user := strings.TrimSpace(r.PostFormValue("user"))
	pass := r.PostFormValue("password")
	if !s.passwordAllowed(r) {
		s.showLogin(w, r, http.StatusForbidden, user, msgNeedTLS)
		return
	}
	c, err := r.Cookie(cookieName(r, "sealgate_login"))
	if err != nil || !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		s.showLogin(w, r, http.StatusForbidden, user, "The login form expired. Please try again.")
		return
	}
	u, err := s.opts.Auth.Authenticate(r.Context(), user, pass, clientAddr(r))
	if err != nil {
		s.log.Info("login", "protocol", "webmail", "client", clientAddr(r), "user", user, "result", "failed", "reason", err.Error())
	}
	switch {
	case errors.Is(err, auth.ErrThrottled):
		s.showLogin(w, r, http.StatusTooManyRequests, user, "Too many failed logins. Wait a few minutes and try again.")
		return
	case errors.Is(err, auth.ErrInvalidCredentials):
		s.showLogin(w, r, http.StatusUnauthorized, user, "Wrong address or password.")
		return
	case err != nil:
		s.internal(w, r, "login", err)
		return
	}
	sess := s.sessions.create(u)
	setCookie(w, r, "sealgate_login", "", -1)
	setCookie(w, r, "sealgate_session", sess.id, 0)
	// The session id is the cookie, a secret: it is not logged.
	s.log.Info("login", "protocol", "webmail", "client", clientAddr(r), "user", u.Address, "result", "ok")
	http.Redirect(w, r, "/mail/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.sessions.delete(sessionOf(r).id)
	setCookie(w, r, "sealgate_session", "", -1)
	http.Redirect(w, r, "/mail/login", http.StatusSeeOther)
}
