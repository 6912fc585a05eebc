package api

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fdscope/fdscope/live"
)

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/", "/api/processes", "/static/app.js", "/api/nope", "/healthz"} {
		resp, _ := e.get(p)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	if resp, _ := e.get("/api/processes"); resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("API responses are cacheable: %v", resp.Header)
	}
}

func TestHostCheck(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowedHosts = []string{"fdscope.example"} })
	for host, want := range map[string]int{
		"evil.example:8080":    http.StatusForbidden, // DNS rebinding: the attacker's name
		"evil.example":         http.StatusForbidden,
		"10.1.2.3:8080":        http.StatusForbidden, // not our listen address
		"localhost:8080":       http.StatusOK,
		"LOCALHOST":            http.StatusOK,
		"127.0.0.1:1234":       http.StatusOK,
		"127.0.0.2":            http.StatusOK,
		"[::1]:8080":           http.StatusOK,
		"fdscope.example:8080": http.StatusOK,
		"localhost.evil.com":   http.StatusForbidden,
	} {
		for _, p := range []string{"/api/processes", "/", "/api/ws"} {
			resp, body := e.get(p, "Host", host)
			got := resp.StatusCode
			if p == "/api/ws" && got != http.StatusForbidden {
				got = http.StatusOK // not an upgrade: any other answer means the guard let it through
			}
			if got != want {
				t.Errorf("GET %s with Host %q = %d %s, want %d", p, host, resp.StatusCode, body, want)
			}
		}
	}
	// A websocket through a foreign Host is refused too.
	ctx := context.Background()
	_, resp, err := websocket.Dial(ctx, e.wsURL(""), &websocket.DialOptions{Host: "evil.example:8080"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("websocket with a foreign Host: %v %v", err, resp)
	}

	// Listening on every interface: IP literals are ours, names still are not.
	g := newGuard("0.0.0.0:8080", nil, "t", nil)
	if !g.hostOK("192.168.1.5:8080") || !g.hostOK("[fe80::1]:8080") || g.hostOK("rebind.example:8080") {
		t.Error("guard on 0.0.0.0 misjudges hosts")
	}
	g = newGuard("192.168.1.5:8080", nil, "t", nil)
	if !g.hostOK("192.168.1.5") || g.hostOK("192.168.1.6") {
		t.Error("guard on 192.168.1.5 misjudges hosts")
	}
}

func TestOriginCheck(t *testing.T) {
	e := newEnv(t, nil)
	own := e.ts.URL // http://127.0.0.1:PORT
	host := strings.TrimPrefix(own, "http://")
	for origin, want := range map[string]int{
		"https://evil.example":            http.StatusForbidden,
		"http://localhost:1":              http.StatusForbidden, // another port is another origin
		"null":                            http.StatusForbidden,
		own:                               http.StatusOK,
		"http://" + strings.ToUpper(host): http.StatusOK,
	} {
		if resp, body := e.get("/api/processes", "Origin", origin); resp.StatusCode != want {
			t.Errorf("REST with Origin %q = %d %s, want %d", origin, resp.StatusCode, body, want)
		}
	}
	// Cross-site websocket hijacking: a page elsewhere opens our websocket.
	_, resp, err := e.dial("", "Origin", "https://evil.example")
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("websocket with a foreign Origin: %v %+v", err, resp)
	}
	// The page's own origin may.
	c, _, err := e.dial("?graph=none", "Origin", own)
	if err != nil {
		t.Fatalf("websocket from the page's own origin: %v", err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	// A cross-site subresource request is refused; a navigation is not.
	if resp, _ := e.get("/api/graph", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site no-cors fetch = %d, want 403", resp.StatusCode)
	}
	if resp, _ := e.get("/", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"); resp.StatusCode != http.StatusOK {
		t.Errorf("cross-site navigation = %d, want 200", resp.StatusCode)
	}
}

func TestToken(t *testing.T) {
	if _, err := New(Options{Source: live.NewStore(0), Listen: "0.0.0.0:8080"}); err == nil {
		t.Error("New accepted a non-loopback listen address without a token")
	}
	if _, err := New(Options{Source: live.NewStore(0), Listen: ":8080"}); err == nil {
		t.Error("New accepted :8080 without a token")
	}
	const token = "s3cret-token"
	e := newEnv(t, func(o *Options) { o.Token = token; o.Identify = stranger })
	// /healthz (status only) for readiness probes, which cannot send it.
	if resp, _ := e.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz without a token = %d, want 200", resp.StatusCode)
	}
	for _, p := range []string{"/", "/api/graph", "/api/processes", "/metrics", "/static/app.js"} {
		if resp, _ := e.get(p); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a token = %d, want 401", p, resp.StatusCode)
		}
		if resp, _ := e.get(p, "Authorization", "Bearer wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token = %d, want 401", p, resp.StatusCode)
		}
		if resp, _ := e.get(p, "Authorization", "Bearer "+token); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the token = %d, want 200", p, resp.StatusCode)
		}
	}
	// Opening the page with ?token= sets the cookie and drops the token from the address.
	resp, _ := e.get("/?token=" + url.QueryEscape(token) + "&x=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?x=1" {
		t.Fatalf("/?token= = %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == TokenCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("token cookie = %+v", cookie)
	}
	if resp, _ := e.get("/?token=wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/?token=wrong = %d", resp.StatusCode)
	}
	if resp, _ := e.get("/api/processes", "Cookie", TokenCookie+"="+token); resp.StatusCode != http.StatusOK {
		t.Errorf("with the cookie = %d", resp.StatusCode)
	}
	// The websocket: refused without, accepted with the cookie (what a browser sends).
	if _, resp, err := e.dial("?graph=none"); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("websocket without the token: %v %+v", err, resp)
	}
	c, _, err := e.dial("?graph=none", "Cookie", TokenCookie+"="+token)
	if err != nil {
		t.Fatalf("websocket with the cookie: %v", err)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// stranger poses as a user other than the server's for the tests of what
// other users may do (TestOtherUser asks the kernel, with a real one).
func stranger(netip.AddrPort, netip.AddrPort) (uint32, error) { return 65534, nil }

func TestConnectionLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxClientsPerUser = 3; o.Identify = stranger; o.Token = "t" })
	for range 3 {
		if _, _, err := e.dial("?graph=none", "Authorization", "Bearer t"); err != nil {
			t.Fatal(err)
		}
	}
	_, resp, err := e.dial("?graph=none", "Authorization", "Bearer t")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th connection from one address: %v %+v", err, resp)
	}
	if resp, body := e.get("/metrics", "Authorization", "Bearer t"); !strings.Contains(body, `fdscope_http_refused_total{reason="limit"} 1`) {
		t.Errorf("refusal not counted: %d", resp.StatusCode)
	}
}

func TestMessageLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.ReadLimit = 1024; o.MaxRequestsPerSecond = 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Too big a message closes the connection with 1009.
	c := e.client("?graph=none")
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"resync","x":"`+strings.Repeat("a", 4096)+`"}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.end(c); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("after an oversized message: %v, want close 1009", err)
	}

	// A flood of requests closes the connection with 1008.
	c = e.client("?graph=none")
	for range 20 {
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"resync"}`)); err != nil {
			break
		}
	}
	if err := e.end(c); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Errorf("after a flood: %v, want close 1008", err)
	}

	// A malformed request is answered with an error message; the stream goes on.
	c = e.client("?graph=none&processes=1")
	if m := e.read(c); m.Type != TypeProcesses {
		t.Fatalf("first message %s", m.raw)
	}
	send(t, c, map[string]any{"type": "focus", "pid": -3})
	if m := e.read(c); m.Type != TypeError || !strings.Contains(m.Error, "bad pid") {
		t.Errorf("answer to a bad focus: %s", m.raw)
	}
	c.Write(ctx, websocket.MessageText, []byte("{not json"))
	if m := e.read(c); m.Type != TypeError {
		t.Errorf("answer to bad JSON: %s", m.raw)
	}
	e.world.Start(1, "late")
	e.publish()
	if m := e.read(c); m.Type != TypeProcessesDiff {
		t.Errorf("the stream did not go on: %s", m.raw)
	}
	if _, _, err := e.dial("?graph=bogus"); err == nil {
		t.Error("a bad subscription was accepted")
	}
}

func TestShutdown(t *testing.T) {
	e := newEnv(t, nil)
	conns := []*wsc{e.client("?graph=none"), e.client(""), e.client("?processes=1")}
	waitFor(t, "3 clients", func() bool { return e.srv.Clients() == 3 })
	// Shutdown returns nil only once every client has taken its close
	// frame, before ctx ends; the bound is for a loaded machine (serve
	// gives it 1.5 s).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- e.srv.Shutdown(ctx) }()
	for i, c := range conns {
		if err := e.end(c); websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("client %d: %v, want close 1001", i, err)
		}
	}
	if err := <-errc; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, resp, err := e.dial("?graph=none"); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a connection after shutdown: %v %+v", err, resp)
	}
}

// TestIdentifyOncePerConnection: the owner of a connection is looked up on
// its first request, not on every one.
func TestIdentifyOncePerConnection(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, func(o *Options) {
		o.Identify = func(client, server netip.AddrPort) (uint32, error) {
			calls.Add(1)
			return uint32(os.Geteuid()), nil
		}
	})
	client := e.ts.Client() // keeps its connection alive
	for range 5 {
		resp, err := client.Get(e.ts.URL + "/api/processes")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("5 requests on one connection looked its owner up %d times, want 1", n)
	}
}
