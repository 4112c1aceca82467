package webmail

import (
	"regexp"

	"github.com/microcosm-cc/bluemonday"
)

// HTML mail is sanitized with an allow-list: text formatting, tables, lists, links (http,
// https, mailto; opened in a new tab without referrer) and images. Everything else goes:
// script, style elements and attributes (so no CSS url()), event handlers, forms, frames,
// objects, meta refresh, base, and every other URL scheme (javascript:, vbscript:, data: except
// images). Images from the network are kept only when the user asks for them per message;
// otherwise only data: images remain. The read view's CSP and iframe sandbox enforce the same
// again in the browser.
var (
	policyLocal  = newPolicy(false)
	policyRemote = newPolicy(true)
)

func newPolicy(remote bool) *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowStandardAttributes()
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.AllowAttrs("href").OnElements("a")
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowElements("a", "abbr", "acronym", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption", "center",
		"cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4",
		"h5", "h6", "hr", "i", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike",
		"strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr")
	p.AllowAttrs("align", "valign", "width", "height", "colspan", "rowspan", "border", "cellpadding", "cellspacing").
		OnElements("table", "td", "th", "tr", "col", "colgroup", "tbody", "thead", "tfoot", "img", "div", "p")
	p.AllowAttrs("color", "face", "size").OnElements("font")
	p.AllowAttrs("alt", "title", "width", "height").OnElements("img")
	p.AllowDataURIImages() // the data: scheme, for images with valid base64 only
	src := `(?i)^data:image/(png|gif|jpeg|webp);base64,`
	if remote {
		src = `(?i)^(data:image/(png|gif|jpeg|webp);base64,|https?://)`
	}
	p.AllowAttrs("src").Matching(regexp.MustCompile(src)).OnElements("img")
	return p
}

func sanitizeHTML(html string, remote bool) string {
	if remote {
		return policyRemote.Sanitize(html)
	}
	return policyLocal.Sanitize(html)
}

var remoteRef = regexp.MustCompile(`(?i)(\bsrc|\bbackground|url)\s*[=(]\s*["']?\s*(https?:)?//`)

// hasRemoteContent says whether the HTML refers to anything on the network that the user could
// choose to load.
func hasRemoteContent(html string) bool { return remoteRef.MatchString(html) }
