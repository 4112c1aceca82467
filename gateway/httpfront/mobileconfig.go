package httpfront

import (
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// MobileConfigType is the media type of Apple configuration profiles.
const MobileConfigType = "application/x-apple-aspen-config"

// MobileConfig returns an unsigned Apple configuration profile (a com.apple.mail.managed
// payload) for address: IMAP and SMTP submission on the hostname, the whole address as user
// name, implicit TLS where offered and STARTTLS otherwise; the password is asked on the device.
// Its identifiers derive from the address, so a second download replaces the first profile.
func (site *Site) MobileConfig(address string) []byte {
	s := site.settings.Load()
	var in, out *Server
	for _, srv := range s.ordered() {
		srv := srv
		switch {
		case srv.Protocol == "imap" && in == nil:
			in = &srv
		case srv.Protocol == "smtp" && out == nil:
			out = &srv
		}
	}
	domain := address[strings.LastIndexByte(address, '@')+1:]
	id := reverseDNS(s.Hostname) + ".sealgate.mail." + uuidOf("id:"+address)
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString("<plist version=\"1.0\">\n<dict>\n<key>PayloadContent</key>\n<array>\n<dict>\n")
	str := func(k, v string) {
		b.WriteString("<key>" + k + "</key><string>")
		xml.EscapeText(&b, []byte(v))
		b.WriteString("</string>\n")
	}
	num := func(k string, n int) {
		b.WriteString("<key>" + k + "</key><integer>" + strconv.Itoa(n) + "</integer>\n")
	}
	flag := func(k string, v bool) { b.WriteString("<key>" + k + "</key><" + strconv.FormatBool(v) + "/>\n") }
	str("EmailAccountDescription", address)
	str("EmailAccountName", address)
	str("EmailAccountType", "EmailTypeIMAP")
	str("EmailAddress", address)
	if in != nil {
		str("IncomingMailServerAuthentication", "EmailAuthPassword")
		str("IncomingMailServerHostName", s.Hostname)
		num("IncomingMailServerPortNumber", in.Port)
		flag("IncomingMailServerUseSSL", true) // STARTTLS when the port is not implicit TLS
		str("IncomingMailServerUsername", address)
	}
	if out != nil {
		str("OutgoingMailServerAuthentication", "EmailAuthPassword")
		str("OutgoingMailServerHostName", s.Hostname)
		num("OutgoingMailServerPortNumber", out.Port)
		flag("OutgoingMailServerUseSSL", true)
		str("OutgoingMailServerUsername", address)
		flag("OutgoingPasswordSameAsIncomingPassword", true)
	}
	str("PayloadDisplayName", "Mail: "+address)
	str("PayloadIdentifier", id+".account")
	str("PayloadType", "com.apple.mail.managed")
	str("PayloadUUID", uuidOf("account:"+address))
	num("PayloadVersion", 1)
	b.WriteString("</dict>\n</array>\n")
	str("PayloadDisplayName", domain+" mail")
	str("PayloadIdentifier", id)
	str("PayloadType", "Configuration")
	str("PayloadUUID", uuidOf("profile:"+address))
	num("PayloadVersion", 1)
	b.WriteString("</dict>\n</plist>\n")
	return []byte(b.String())
}

// uuidOf makes a stable UUID (version 8 layout) from s.
func uuidOf(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]))
}

// reverseDNS turns mx.example.org into org.example.mx for payload identifiers.
func reverseDNS(host string) string {
	labels := strings.Split(host, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".")
}
