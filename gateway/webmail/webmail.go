// Package webmail is Sealgate's web mail: server-rendered HTML (html/template) with a little
// JavaScript, all embedded in the binary, served under /mail/ on the gateway's http listener.
//
// Security contract:
//   - Login checks the account password with the gateway's shared auth.Authenticator, so failed
//     logins are throttled per client address and per account, across every protocol.
//   - A password is taken only over TLS (directly, or through a reverse proxy in [http]
//     trusted_proxies that sets X-Forwarded-Proto: https), or over plain HTTP from loopback when
//     PlaintextAuthOnLoopback is set; otherwise the login form says so and refuses.
//   - Sessions live on the server (random 256-bit ids, idle and absolute expiry, deleted at
//     logout); the cookie is HttpOnly, SameSite=Strict, and Secure (with the __Host- prefix)
//     when the request arrived over TLS.
//   - Every state-changing request (every POST) must carry the session's synchronizer token,
//     and a cross-origin Origin header is refused; the login form has its own token.
//   - Every response carries a strict Content-Security-Policy (default-src 'self', no inline
//     script), frame-ancestors 'none' / X-Frame-Options DENY, Referrer-Policy no-referrer,
//     nosniff and Cache-Control: no-store.
//   - HTML mail is sanitized with an allow-list (no scripts, event handlers, styles, forms or
//     non-http(s)/mailto URLs; remote images only when the user asks for one message) and is
//     served on its own URL into a sandboxed iframe (no scripts, unique origin) with a CSP of
//     default-src 'none', so even a sanitizer bug neither runs code nor loads anything.
//   - Compose goes through the submission pipeline (pipeline.RoleSubmission with the user as
//     AuthUser), exactly like SMTP submission: the sender's policy signs, encrypts or rejects.
package webmail

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
	"github.com/sealgate/sealgate/keys"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the web mail is mounted.
const Prefix = "/mail/"

// Submitter is the submission pipeline (pipeline.Pipeline).
type Submitter interface {
	Process(ctx context.Context, env *pipeline.Envelope, msg *msgbuf.Buffer) (mailstore.Delivered, error)
}

// Options configure New. Store, Index, Auth, Keys, Pipeline and IsLocalDomain are required.
type Options struct {
	Store Store
	// Index fills the search index listings and searches read; the caller runs it.
	Index         *mailindex.Indexer
	Auth          *auth.Authenticator
	Keys          *keys.Keyring
	Pipeline      Submitter
	IsLocalDomain func(domain string) bool
	// IsRelayDomain reports whether a domain's mailboxes are on the organisation's own mail
	// server (gateway mode): its recipients get the inbound treatment and go to the queue; nil
	// means none.
	IsRelayDomain func(domain string) bool
	// Directory resolves local recipients as SMTP submission does (aliases, sub-addresses,
	// postmaster@, forwarding); nil accepts accounts only.
	Directory *addressing.Directory
	Hostname  string       // right side of Message-IDs, and the authserv-id of the gateway's Authentication-Results; "" is "localhost"
	Logger    *slog.Logger // nil: slog.Default()
	// MaxMessageSize bounds a composed message with its attachments; 0 is 50 MiB.
	MaxMessageSize int64
	// SpoolDir holds composed messages too large for memory (encrypted); "" is the system's.
	SpoolDir string
	// OnChange is told when web mail changed a user's mailboxes (to wake IMAP IDLE); may be nil.
	OnChange func(userID int64)
	// PlaintextAuthOnLoopback lets a loopback client log in over plain HTTP (development).
	// Otherwise a password is taken only over TLS, or from a trusted reverse proxy that says
	// its client used https (X-Forwarded-Proto, kept only from [http] trusted_proxies).
	PlaintextAuthOnLoopback bool
	// SessionIdle ends a session unused this long [30m]; SessionMax ends any session [12h].
	SessionIdle, SessionMax time.Duration
	// Now is the clock [time.Now].
	Now func() time.Time
	// MobileConfig makes the Apple configuration profile (mail settings, no password) the keys
	// page offers for the user's address; nil offers none.
	MobileConfig func(address string) []byte
}

// Server is the web mail handler.
type Server struct {
	opts     Options
	log      *slog.Logger
	tmpl     map[string]*template.Template
	sessions *sessionStore
	mux      *http.ServeMux
}

// New returns the web mail; mount it at Prefix.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Index == nil || opts.Auth == nil || opts.Keys == nil || opts.Pipeline == nil || opts.IsLocalDomain == nil {
		return nil, errors.New("webmail: Store, Index, Auth, Keys, Pipeline and IsLocalDomain are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = 50 << 20
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 30 * time.Minute
	}
	if opts.SessionMax <= 0 {
		opts.SessionMax = 12 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger, sessions: newSessionStore(opts.SessionIdle, opts.SessionMax, opts.Now)}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /mail/static/", http.StripPrefix("/mail/static/", staticHandler(static)))
	m.HandleFunc("GET /mail/login", s.loginPage)
	m.HandleFunc("POST /mail/login", s.login)
	// Every other page is for a signed-in user only.
	for pattern, h := range map[string]http.HandlerFunc{
		"POST /mail/logout":            s.logout,
		"GET /mail/{$}":                s.list,
		"GET /mail/read":               s.read,
		"GET /mail/html":               s.htmlBody,
		"GET /mail/part":               s.part,
		"GET /mail/compose":            s.compose,
		"POST /mail/send":              s.send,
		"POST /mail/action":            s.action,
		"GET /mail/keys":               s.keysPage,
		"GET /mail/keys/public.asc":    s.keyDownload,
		"POST /mail/keys":              s.keyUpload,
		"GET /mail/apple.mobileconfig": s.mobileConfig,
		"GET /mail/api/status":         s.status,
	} {
		m.HandleFunc(pattern, s.authed(h))
	}
	m.HandleFunc("/mail/", func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, http.StatusNotFound, "Not found.") })
	s.mux = m
	return s, nil
}

// ServeHTTP serves every web mail URL with the security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form
	// posts, and the Origin check needs the real one. Nothing leaks to other sites either way.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
	if isTLS(r) {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if !strings.HasPrefix(r.URL.Path, "/mail/static/") {
		h.Set("Cache-Control", "no-store")
	}
	s.mux.ServeHTTP(w, r)
}

func staticHandler(root fs.FS) http.Handler {
	fsrv := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=300")
		fsrv.ServeHTTP(w, r)
	})
}

// isTLS reports whether r reached us over TLS: directly, or through a reverse proxy that says
// its client used https. The gateway serves web mail behind httpfront.Proxies, which keeps
// X-Forwarded-Proto only on requests from [http] trusted_proxies and removes it from every
// other one (a client could set it itself): that is the one place the header is judged.
func isTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// passwordAllowed reports whether a password may be sent on r: over TLS (see isTLS), or
// over plain HTTP from a loopback client, not through a proxy, when PlaintextAuthOnLoopback
// is set.
func (s *Server) passwordAllowed(r *http.Request) bool {
	if isTLS(r) {
		return true
	}
	return s.opts.PlaintextAuthOnLoopback && clientAddr(r).IsLoopback() && r.Header.Get("X-Forwarded-Proto") == ""
}

func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// fail shows an error page; internal errors are logged with a correlation id the user sees.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	s.render(w, r, "error", page{Title: http.StatusText(code), Error: msg})
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	id := envelope.NewID()
	s.log.Error("webmail: "+what, "err", err, "id", id)
	s.fail(w, r, http.StatusInternalServerError, fmt.Sprintf("Something went wrong (reference %s).", id))
}

func (s *Server) changed(userID int64) {
	if s.opts.OnChange != nil {
		s.opts.OnChange(userID)
	}
}
