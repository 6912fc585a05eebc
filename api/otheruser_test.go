package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The tests of what other users may do run clients as real other users:
// a copy of the test binary, started through setpriv with another uid,
// plays the client (asClient) and prints what the server answered.

// asEnv names the environment variable that makes the test binary a client
// (asClient) instead of running the tests.
const asEnv = "FDSCOPE_API_TEST_CLIENT"

func TestMain(m *testing.M) {
	if mode := os.Getenv(asEnv); mode != "" {
		os.Exit(asClient(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// asClient is the client side, in its own process:
//
//	get URL [HEADER VALUE]: GET URL, print the status code
//	flood WSURL TOKEN N: open N websockets from 127.0.0.2 to 127.0.0.17 in
//	turn, print "ok K codes C1,C2,..." and hold them until stdin closes
func asClient(mode string, args []string) int {
	switch {
	case mode == "get" && len(args) >= 1:
		req, err := http.NewRequest(http.MethodGet, args[0], nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if len(args) >= 3 {
			req.Header.Set(args[1], args[2])
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
		return 0
	case mode == "flood" && len(args) == 3:
		n, _ := strconv.Atoi(args[2])
		ok, codes := 0, []string{}
		for i := range n {
			src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%16))}
			d := &net.Dialer{LocalAddr: src}
			hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, resp, err := websocket.Dial(ctx, args[0], &websocket.DialOptions{HTTPClient: hc,
				HTTPHeader: http.Header{"Authorization": {"Bearer " + args[1]}}})
			cancel()
			switch {
			case err == nil:
				ok++
				defer c.CloseNow()
			case resp != nil:
				codes = append(codes, strconv.Itoa(resp.StatusCode))
			default:
				codes = append(codes, "error")
			}
		}
		fmt.Printf("ok %d codes %s\n", ok, strings.Join(codes, ","))
		io.Copy(io.Discard, os.Stdin)
		return 0
	}
	fmt.Fprintf(os.Stderr, "bad client mode %q %q\n", mode, args)
	return 2
}

// otherUserBinary returns a copy of the test binary that any user can run
// (the original lives in a directory only root can enter), or skips the
// test when not root or without setpriv.
func otherUserBinary(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: clients run as other users through setpriv")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	dir, err := os.MkdirTemp("", "fdscope-api-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	src, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "api.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// asUser returns the command that runs bin as a client of mode as uid.
func asUser(bin string, uid int, mode string, args ...string) *exec.Cmd {
	u := strconv.Itoa(uid)
	cmd := exec.Command("setpriv", append([]string{"--reuid=" + u, "--regid=" + u, "--clear-groups", bin}, args...)...)
	cmd.Env = append(os.Environ(), asEnv+"="+mode)
	cmd.Dir = filepath.Dir(bin)
	return cmd
}

// getAs GETs url as uid and returns the status code.
func getAs(t *testing.T, bin string, uid int, url string, hdr ...string) int {
	t.Helper()
	cmd := asUser(bin, uid, "get", append([]string{url}, hdr...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GET %s as uid %d: %v; stderr:\n%s", url, uid, err, stderr.String())
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("GET %s as uid %d printed %q", url, uid, out)
	}
	return code
}

// TestOtherUser: on loopback the kernel says who is asking. Another user
// is refused without the token (403 when the server has none, 401 when it
// has one) and served with it; the server's own user needs none.
func TestOtherUser(t *testing.T) {
	bin := otherUserBinary(t)
	e := newEnv(t, nil)
	for _, p := range []string{"/api/graph", "/api/processes", "/", "/metrics"} {
		if code := getAs(t, bin, 65534, e.ts.URL+p); code != http.StatusForbidden {
			t.Errorf("GET %s as nobody on a server without a token = %d, want 403", p, code)
		}
		if resp, _ := e.get(p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s as the server's own user = %d, want 200", p, resp.StatusCode)
		}
	}

	const token = "shared-on-purpose"
	e = newEnv(t, func(o *Options) { o.Token = token })
	if code := getAs(t, bin, 65534, e.ts.URL+"/api/graph"); code != http.StatusUnauthorized {
		t.Errorf("GET /api/graph as nobody without the token = %d, want 401", code)
	}
	if code := getAs(t, bin, 65534, e.ts.URL+"/api/graph", "Authorization", "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("GET /api/graph as nobody with a wrong token = %d, want 401", code)
	}
	if code := getAs(t, bin, 65534, e.ts.URL+"/api/graph", "Authorization", "Bearer "+token); code != http.StatusOK {
		t.Errorf("GET /api/graph as nobody with the token = %d, want 200", code)
	}
	if code := getAs(t, bin, 65534, e.ts.URL+"/?token="+token); code != http.StatusSeeOther {
		t.Errorf("GET /?token= as nobody = %d, want 303 (the cookie)", code)
	}
	if resp, _ := e.get("/api/graph"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/graph as the server's own user, no token = %d, want 200", resp.StatusCode)
	}
	if resp, body := e.get("/metrics"); !strings.Contains(body, `fdscope_http_refused_total{reason="token"} 2`) {
		t.Errorf("the refusals are not counted (%d)", resp.StatusCode)
	}
}

// TestNoLockout: users flooding the server from 16 loopback addresses get
// as many connections as the per-user limit lets them (not one set per
// address), all of them together no more than MaxClients, and the server's
// own user still gets in.
func TestNoLockout(t *testing.T) {
	bin := otherUserBinary(t)
	const token, perUser, others = "t0k", 4, 10
	e := newEnv(t, func(o *Options) { o.Token = token; o.MaxClientsPerUser = perUser; o.MaxClients = others })
	total := 0
	for i, uid := range []int{60001, 60002, 60003} {
		cmd := asUser(bin, uid, "flood", e.wsURL("?graph=none"), token, "40")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stdin.Close(); cmd.Wait() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("flood as uid %d: %v", uid, err)
		}
		var ok int
		var codes string
		fmt.Sscanf(line, "ok %d codes %s", &ok, &codes)
		want := min(perUser, others-i*perUser)
		total += ok
		if ok != want {
			t.Errorf("uid %d from 16 addresses got %d connections, want %d (%s)", uid, ok, want, strings.TrimSpace(line))
		}
		for _, c := range strings.Split(codes, ",") {
			if c != "429" && c != "503" {
				t.Errorf("uid %d refused with %s, want 429 or 503", uid, c)
				break
			}
		}
	}
	waitFor(t, "the flood's connections", func() bool { return e.srv.Clients() == total })
	for i := range others { // a pool of its own, as large as the others'
		if _, _, err := e.dial("?graph=none"); err != nil {
			t.Fatalf("the server's own user, connection %d, during the flood: %v", i+1, err)
		}
	}
}
