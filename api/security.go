package api

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// TokenCookie is the cookie that carries the access token after the page was
// opened with ?token=.
const TokenCookie = "fdscope_token"

// contentSecurityPolicy allows scripts, styles and connections from the
// page's own origin only: no inline script, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// guard is the security middleware in front of every route: security
// headers, the Host check against DNS rebinding, the Origin check against
// cross-site requests, and the access token.
type guard struct {
	hosts    map[string]bool // allowed Host names, lower case, without port or brackets
	anyIP    bool            // listening on an unspecified address: any IP literal is a Host of ours
	token    string          // "" when the server has none: only its own user and root are served
	uid      uint32          // the server's own user
	identify IdentifyFunc    // who owns a loopback client's socket; nil: nobody is known
	refused  func(reason string)
}

// IsLoopback reports whether a listen address ("host:port") is on loopback
// only: a loopback IP or "localhost". An empty host (":8080") listens on
// every interface and is not loopback.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newGuard(listen string, allowed []string, token string, refused func(string)) *guard {
	g := &guard{hosts: map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}, token: token, refused: refused,
		uid: uint32(os.Geteuid())}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		ip := net.ParseIP(host)
		switch {
		case host == "" || (ip != nil && ip.IsUnspecified()):
			g.anyIP = true
		default:
			g.hosts[strings.ToLower(host)] = true
		}
	}
	for _, h := range allowed {
		g.hosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	return g
}

// hostOK reports whether a Host header names this server: a loopback name,
// the listen address, an allowed name, or (when listening on every
// interface) an IP literal. A DNS-rebinding page sends its own domain name
// and is refused.
func (g *guard) hostOK(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if g.hosts[host] {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || g.anyIP)
}

// originOK reports whether a request's Origin (if any) is the page's own:
// same host and port as the Host the request was sent to.
func originOK(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// fetchOK refuses what a browser marks as a cross-site subresource request
// (an <img>, <script> or no-cors fetch from another site); navigating to
// the dashboard from another site is allowed.
func fetchOK(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") != "cross-site" || r.Header.Get("Sec-Fetch-Mode") == "navigate"
}

// trusted reports whether p is the server's own user or root, as the
// kernel says: they need no token.
func (g *guard) trusted(p *peer) bool {
	return p.known && (p.uid == g.uid || p.uid == 0)
}

// tokenOK reports whether r carries the server's token (false when it has none).
func (g *guard) tokenOK(r *http.Request) bool {
	if g.token == "" {
		return false
	}
	var got string
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		got = strings.TrimPrefix(a, "Bearer ")
	} else if c, err := r.Cookie(TokenCookie); err == nil {
		got = c.Value
	} else {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) == 1
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

func (g *guard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		refuse := func(code int, reason, msg string) {
			if g.refused != nil {
				g.refused(reason)
			}
			writeError(w, code, msg)
		}
		switch {
		case !g.hostOK(r.Host):
			refuse(http.StatusForbidden, "host", "forbidden: unknown Host "+quote(r.Host))
			return
		case !originOK(r):
			refuse(http.StatusForbidden, "origin", "forbidden: cross-origin request from "+quote(r.Header.Get("Origin")))
			return
		case !fetchOK(r):
			refuse(http.StatusForbidden, "origin", "forbidden: cross-site request")
			return
		}
		// Opening the page with ?token=T sets the cookie and reloads the
		// page without the token in its address (and so in its history).
		q := r.URL.Query()
		if t := q.Get("token"); g.token != "" && t != "" && r.Method == http.MethodGet &&
			subtle.ConstantTimeCompare([]byte(t), []byte(g.token)) == 1 {
			http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: g.token, Path: "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		// /healthz says only whether scans are recent (a readiness probe
		// cannot send the token); everything else needs the token.
		if g.trusted(peerOf(r, g.identify)) || g.tokenOK(r) || r.URL.Path == "/healthz" && r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		if g.token == "" {
			refuse(http.StatusForbidden, "user", fmt.Sprintf("forbidden: this server shows its user's (uid %d) view of the machine "+
				"to that user and root only; to share it, its user starts it with --token-file and gives you the token", g.uid))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="fdscope"`)
		refuse(http.StatusUnauthorized, "token", "unauthorized: this server needs its access token "+
			"(open the address it printed at start, with ?token=, or send Authorization: Bearer TOKEN)")
	})
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
