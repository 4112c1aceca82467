package gateway

import (
	"context"
	"strings"
	"sync"

	"github.com/sealgate/sealgate/gateway/config"
)

// liveKeys are the config keys Reload applies to the running gateway; a change of any other
// key is reported as needing a restart. A key ending in "." covers its whole table.
var liveKeys = []string{"mtasts.", "http.trusted_proxies"}

// reloadState is the configuration the running gateway follows, as far as reloads changed it.
type reloadState struct {
	mu      sync.Mutex
	running *config.Config // nil until the first reload: the config New was given
}

// ReloadResult says what a reload did.
type ReloadResult struct {
	// Applied are the changed config keys now in effect.
	Applied []string
	// NeedRestart are the changed config keys that take effect only after a restart.
	NeedRestart []string
	// CertificateChanged is true when a new certificate is served from now on.
	CertificateChanged bool
}

// Reload applies cfg (validated by the caller) to the running gateway without interrupting a
// session: it reads the certificate files again (or checks ACME renewal), and takes the keys
// that can change live ([mtasts], [http] trusted_proxies). Other changed keys are reported and
// logged as needing a restart; the gateway keeps their old values. A certificate that does not
// load keeps the current one and is the error returned.
func (g *Gateway) Reload(ctx context.Context, cfg *config.Config) (ReloadResult, error) {
	g.reload.mu.Lock()
	defer g.reload.mu.Unlock()
	running := g.reload.running
	if running == nil {
		running = g.cfg
	}
	var res ReloadResult
	next := *running // fields replaced whole below, never changed in place
	for _, key := range config.Changes(running, cfg) {
		if !isLive(key) {
			res.NeedRestart = append(res.NeedRestart, key)
			continue
		}
		res.Applied = append(res.Applied, key)
	}
	next.MTASTS, next.HTTP = cfg.MTASTS, cfg.HTTP
	if g.site != nil {
		g.site.Set(g.siteSettings(&next))
	}
	if g.proxies != nil {
		g.proxies.Set(next.HTTP.TrustedProxyPrefixes())
	}
	g.reload.running = &next
	changed, err := g.certs.Reload(ctx)
	res.CertificateChanged = changed
	attrs := []any{"applied", res.Applied, "certificate_changed", changed}
	if err != nil {
		attrs = append(attrs, "certificate_error", err)
	}
	g.log.Info("configuration reloaded", attrs...)
	if len(res.NeedRestart) > 0 {
		g.log.Warn("changed settings take effect only after a restart", "keys", res.NeedRestart)
	}
	return res, err
}

func isLive(key string) bool {
	for _, l := range liveKeys {
		if key == l || (strings.HasSuffix(l, ".") && strings.HasPrefix(key, l)) {
			return true
		}
	}
	return false
}
