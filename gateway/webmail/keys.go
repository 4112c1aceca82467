package webmail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/keys"
)

type keyView struct {
	Fingerprint string
	Scheme      string
	Algorithm   string
	Created     string
	Expires     string
	State       string
	Trust       string
	Secret      bool
	Source      string
}

type keysData struct {
	Keys         []keyView
	HasPGP       bool
	MobileConfig bool // the Apple configuration profile is offered
}

func (s *Server) keysPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	entries, err := s.opts.Keys.Entries(ctx, sess.user.Address)
	if err != nil && !errors.Is(err, keys.ErrNotFound) {
		s.internal(w, r, "keys", err)
		return
	}
	var d keysData
	now := s.opts.Keys.Now()
	for _, e := range entries {
		kv := keyView{Fingerprint: e.Fingerprint, Scheme: map[keys.Scheme]string{keys.SchemePGP: "OpenPGP", keys.SchemeSMIME: "S/MIME", keys.SchemeCA: "CA"}[e.Scheme],
			Algorithm: e.Algorithm, Created: e.Created.Format("2006-01-02"), Expires: "never", State: string(e.State(now)),
			Trust: string(e.Trust), Secret: e.Secret, Source: e.Source}
		if !e.Expires.IsZero() {
			kv.Expires = e.Expires.Format("2006-01-02")
		}
		if e.Scheme == keys.SchemePGP {
			d.HasPGP = true
		}
		d.Keys = append(d.Keys, kv)
	}
	folders, err := s.folders(ctx, sess.user.ID)
	if err != nil {
		s.internal(w, r, "folders", err)
		return
	}
	d.MobileConfig = s.opts.MobileConfig != nil
	q := r.URL.Query()
	s.render(w, r, "keys", page{Title: "Keys", Folders: folders, Data: d, Notice: q.Get("notice"), Error: q.Get("error")})
}

// keyDownload sends the user's OpenPGP public key (never a secret key).
func (s *Server) keyDownload(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	data, err := s.opts.Keys.Admin("webmail:"+sess.user.Address).ExportPGP(r.Context(), sess.user.Address, false)
	if errors.Is(err, keys.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "You have no OpenPGP key.")
		return
	}
	if err != nil {
		s.internal(w, r, "export key", err)
		return
	}
	w.Header().Set("Content-Type", "application/pgp-keys")
	w.Header().Set("Content-Disposition", contentDisposition(strings.ReplaceAll(sess.user.Address, "@", "_at_")+".asc"))
	w.Write(data)
}

// mobileConfig downloads the Apple configuration profile for the user's own address.
func (s *Server) mobileConfig(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if s.opts.MobileConfig == nil {
		s.fail(w, r, http.StatusNotFound, "Not found.")
		return
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", contentDisposition(strings.ReplaceAll(sess.user.Address, "@", "_at_")+".mobileconfig"))
	w.Write(s.opts.MobileConfig(sess.user.Address))
}

// maxKeyUpload bounds an uploaded key.
const maxKeyUpload = 1 << 20

// keyUpload imports an OpenPGP public key for the user's own address. Keys for any other
// address, and secret keys, are refused: a user may only vouch for themselves.
func (s *Server) keyUpload(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	data := []byte(r.PostFormValue("key"))
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 {
			f, err := fhs[0].Open()
			if err != nil {
				s.internal(w, r, "upload", err)
				return
			}
			data, err = io.ReadAll(io.LimitReader(f, maxKeyUpload+1))
			f.Close()
			if err != nil {
				s.internal(w, r, "upload", err)
				return
			}
		}
	}
	back := func(kind, msg string) {
		http.Redirect(w, r, "/mail/keys?"+url.Values{kind: {msg}}.Encode(), http.StatusSeeOther)
	}
	if err := checkOwnPublicKey(data, sess.user.Address); err != nil {
		back("error", err.Error())
		return
	}
	entries, err := s.opts.Keys.Admin("webmail:"+sess.user.Address).Import(r.Context(), data, keys.ImportOptions{Address: sess.user.Address})
	if errors.Is(err, keys.ErrRefused) {
		back("error", "The key was not imported: "+strings.TrimPrefix(err.Error(), "keys: "))
		return
	}
	if err != nil {
		s.internal(w, r, "import key", err)
		return
	}
	fps := make([]string, len(entries))
	for i, e := range entries {
		fps[i] = e.Fingerprint
	}
	s.log.Info("webmail: key imported", "user", sess.user.Address, "fingerprints", fps)
	back("notice", "Imported "+strings.Join(fps, ", ")+".")
}

func checkOwnPublicKey(data []byte, self string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("choose a key file or paste an armored OpenPGP public key")
	}
	if len(data) > maxKeyUpload {
		return errors.New("that file is too large to be a public key")
	}
	kr, err := pgpmime.ReadKeys(bytes.NewReader(data))
	if err != nil || len(kr) == 0 {
		return errors.New("that is not an OpenPGP public key")
	}
	for _, k := range kr {
		if k.HasSecret() {
			return errors.New("that is a secret key: upload only your public key")
		}
		for _, e := range k.Emails() {
			if !strings.EqualFold(e, self) {
				return fmt.Errorf("key %s is for %s: you can only upload a key for your own address", k.Fingerprint(), e)
			}
		}
	}
	return nil
}
