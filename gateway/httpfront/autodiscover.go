package httpfront

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
)

// The Outlook POX autodiscover schemas (MS-OXDSCLI).
const (
	autodiscoverResponseNS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	outlookResponseNS      = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

type autodiscoverRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress string `xml:"EMailAddress"`
	} `xml:"Request"`
}

// ParseAutodiscover returns the address of a POX autodiscover request body, read up to
// maxAutodiscoverBody bytes.
func ParseAutodiscover(body io.Reader) (string, error) {
	var req autodiscoverRequest
	dec := xml.NewDecoder(io.LimitReader(body, maxAutodiscoverBody))
	if err := dec.Decode(&req); err != nil {
		return "", err
	}
	addr := strings.TrimSpace(req.Request.EMailAddress)
	if len(addr) > 320 || strings.ContainsAny(addr, " \t\r\n<>\"") || strings.LastIndexByte(addr, '@') <= 0 {
		return "", errors.New("httpfront: no valid EMailAddress")
	}
	return addr, nil
}

type autodiscoverResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	NS       string   `xml:"xmlns,attr"`
	Response struct {
		NS      string `xml:"xmlns,attr"`
		Account struct {
			AccountType string                 `xml:"AccountType"`
			Action      string                 `xml:"Action"`
			Protocols   []autodiscoverProtocol `xml:"Protocol"`
		} `xml:"Account"`
	} `xml:"Response"`
}

type autodiscoverProtocol struct {
	Type           string `xml:"Type"`
	Server         string `xml:"Server"`
	Port           int    `xml:"Port"`
	LoginName      string `xml:"LoginName"`
	DomainRequired string `xml:"DomainRequired"`
	SPA            string `xml:"SPA"`
	SSL            string `xml:"SSL"`
	Encryption     string `xml:"Encryption,omitempty"`
	AuthRequired   string `xml:"AuthRequired"`
}

// autodiscover answers Outlook's POST with the IMAP, POP3 and SMTP settings for the address.
// Only the account settings of local domains are given; the user name is the address.
func (site *Site) autodiscover(w http.ResponseWriter, r *http.Request, s *Settings) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	addr, err := ParseAutodiscover(r.Body)
	if err != nil {
		http.Error(w, "bad autodiscover request", http.StatusBadRequest)
		return
	}
	if !s.isDomain(addr[strings.LastIndexByte(addr, '@')+1:]) {
		http.NotFound(w, r)
		return
	}
	var resp autodiscoverResponse
	resp.NS = autodiscoverResponseNS
	resp.Response.NS = outlookResponseNS
	resp.Response.Account.AccountType = "email"
	resp.Response.Account.Action = "settings"
	seen := map[string]bool{}
	for _, srv := range s.ordered() {
		typ := strings.ToUpper(srv.Protocol)
		if seen[typ] { // Outlook takes one server per protocol: the preferred one
			continue
		}
		seen[typ] = true
		p := autodiscoverProtocol{Type: typ, Server: s.Hostname, Port: srv.Port, LoginName: addr,
			DomainRequired: "off", SPA: "off", SSL: "on", AuthRequired: "on"}
		if !srv.ImplicitTLS {
			p.Encryption = "TLS"
		}
		resp.Response.Account.Protocols = append(resp.Response.Account.Protocols, p)
	}
	out, _ := xml.MarshalIndent(resp, "", "  ")
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	io.WriteString(w, xml.Header)
	w.Write(out)
}
