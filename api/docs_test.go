package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/live"
)

// The examples of docs/api.md are run against a server of the seed
// scenario they describe (diagramtest.UnixEcho: server.py, pid 2554, and
// client.py, pid 2555, over /tmp/server.sock), so that the doc cannot
// drift from the code: every curl line, every route of the routes table,
// the websocket stream table, the example session and the error message,
// and the parameter rules the doc states.

const apiDoc = "../docs/api.md"

// docEnv is a server whose only version is the UnixEcho scenario.
func docEnv(t *testing.T) (*env, string) {
	t.Helper()
	b, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	store := live.NewStore(4)
	store.Publish(diagramtest.UnixEcho())
	db, record := recordHistory(t)
	e := newEnv(t, func(o *Options) { o.Source, o.History, o.Activity = store, db, docActivity() })
	e.store = store
	record(store)
	return e, string(b)
}

var (
	curlRE      = regexp.MustCompile(`(?m)^\$ curl -s '?localhost:8080(/[^'\s]*)'?(.*)$`)
	jsonBlockRE = regexp.MustCompile("(?s)^\\s*```json\\n(.*?)\\n```")
	// What the doc writes for "and more": a trailing ", ...", or "..." as a
	// whole value.
	ellipsisRE = regexp.MustCompile(`,\s*\.\.\.|\.\.\.`)
)

// docJSON parses a JSON example of the doc, its "..." left out.
func docJSON(s string) (any, error) {
	var v any
	err := json.Unmarshal([]byte(ellipsisRE.ReplaceAllString(s, "")), &v)
	return v, err
}

// within reports where doc is not found in got: doc's objects must be in
// got with the same values for the keys doc shows, doc's arrays must
// start got's (an empty one, "[...]", matches any), and an object where
// got has an array must match one of its elements (a jq select).
func within(doc, got any, at string) error {
	switch d := doc.(type) {
	case map[string]any:
		if arr, ok := got.([]any); ok {
			for i, g := range arr {
				if within(d, g, fmt.Sprintf("%s[%d]", at, i)) == nil {
					return nil
				}
			}
			return fmt.Errorf("%s: no element is %v", at, d)
		}
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v, want an object", at, got)
		}
		for k, dv := range d {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s: missing", at, k)
			}
			if err := within(dv, gv, at+"."+k); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: %v, want an array", at, got)
		}
		if len(d) > len(g) {
			return fmt.Errorf("%s: %d elements, the doc shows %d", at, len(g), len(d))
		}
		for i := range d {
			if err := within(d[i], g[i], fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	default:
		if !reflect.DeepEqual(doc, got) {
			return fmt.Errorf("%s: %v, the doc says %v", at, got, doc)
		}
	}
	return nil
}

// TestDocCurlExamples runs each `$ curl` line of docs/api.md and checks
// that the answer holds the JSON example that follows it.
func TestDocCurlExamples(t *testing.T) {
	e, doc := docEnv(t)
	ms := curlRE.FindAllStringSubmatchIndex(doc, -1)
	if len(ms) < 3 {
		t.Fatalf("%d curl examples in %s, want at least 3", len(ms), apiDoc)
	}
	for _, m := range ms {
		path := doc[m[2]:m[3]]
		resp, body := e.get(path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
			continue
		}
		// The next code block after the command's own is its answer.
		rest := doc[m[1]:]
		rest = rest[strings.Index(rest, "```")+3:]
		block := jsonBlockRE.FindStringSubmatch(rest)
		if block == nil {
			t.Errorf("%s: no ```json answer follows the example", path)
			continue
		}
		want, err := docJSON(block[1])
		if err != nil {
			t.Errorf("%s: the doc's answer is not JSON (besides its ...): %v\n%s", path, err, block[1])
			continue
		}
		var got any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := within(want, got, "answer"); err != nil {
			t.Errorf("%s: the answer differs from the doc: %v\nanswer: %s", path, err, body)
		}
	}
}

// TestDocRoutes requests every route of the doc's routes table (with pid
// 2554 for {pid} and N, q=server for TEXT).
func TestDocRoutes(t *testing.T) {
	e, doc := docEnv(t)
	routes := regexp.MustCompile("(?m)^\\| `GET (/[^`]*)` \\|").FindAllStringSubmatch(doc, -1)
	if len(routes) < 10 {
		t.Fatalf("%d routes in the table of %s", len(routes), apiDoc)
	}
	r := strings.NewReplacer("{pid}", "2554", "=N", "=2554", "TEXT", "server")
	for _, m := range routes {
		path := r.Replace(m[1])
		switch path {
		case "/static/...":
			path = "/static/app.js"
		case "/api/ws":
			continue // TestDocWebsocket
		}
		if resp, body := e.get(path); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %.200s", path, resp.StatusCode, body)
		}
	}
}

// TestDocParameters checks what the doc says about parameters, sentence
// by sentence: each rule is quoted from the doc (which must still say
// it) and tried on the server.
func TestDocParameters(t *testing.T) {
	e, doc := docEnv(t)
	const p = "/api/processes/2554"
	for _, rule := range []struct {
		says  string         // a phrase of docs/api.md
		tries map[string]int // path → status
	}{
		{"`404` for an unknown pid, `400` for a malformed one", map[string]int{
			"/api/processes/99999": 404, "/api/processes/x": 400, "/api/processes/-1": 400, "/api/processes/+2554": 400,
			"/api/processes/0x9fa": 400, "/api/processes/2554": 200}},
		{"`?theme=light\\|dark\\|auto`", map[string]int{
			p + "/diagram.svg?theme=light": 200, p + "/diagram.svg?theme=dark": 200, p + "/diagram.svg?theme=auto": 200,
			p + "/diagram.svg?theme=neon": 400}},
		{"`?width=N`, 40–1000, default 120", map[string]int{
			p + "/diagram.txt?width=40": 200, p + "/diagram.txt?width=1000": 200,
			p + "/diagram.txt?width=39": 400, p + "/diagram.txt?width=1001": 400, p + "/diagram.txt?width=wide": 400}},
		{"`?ascii=1` for plain `+-\\|`; `0` or nothing for box drawing; anything else is a `400`", map[string]int{
			p + "/diagram.txt?ascii=1": 200, p + "/diagram.txt?ascii=0": 200,
			p + "/diagram.txt?ascii=yes": 400, p + "/diagram.txt?ascii=true": 400}},
		{"`400` for anything but `0` or `1`", map[string]int{
			p + "/layout?watches=1": 200, p + "/layout?watches=0": 200, p + "/diagram.svg?watches=1": 200,
			p + "/diagram.txt?watches=0": 200, p + "/layout?watches=true": 400, p + "/diagram.txt?watches=yes": 400}},
		{"each starting with `group:`; anything else is a `400`", map[string]int{
			p + "/layout?expand=group:stdio:proc:2554:5000": 200, p + "/layout?expand=fd:1": 400}},
		{"(required, at most 256 bytes; blank is a `400`)", map[string]int{
			"/api/search?q=server": 200, "/api/search?q=+": 400, "/api/search": 400,
			"/api/search?q=" + strings.Repeat("x", 257): 400, "/api/search?q=" + strings.Repeat("x", 256): 200}},
		{"(1–1000, default 200; anything else is a `400`)", map[string]int{
			"/api/search?q=server&limit=1": 200, "/api/search?q=server&limit=1000": 200,
			"/api/search?q=server&limit=0": 400, "/api/search?q=server&limit=1001": 400}},
	} {
		if !strings.Contains(doc, rule.says) {
			t.Errorf("%s no longer says %q: change this test with it", apiDoc, rule.says)
		}
		for path, code := range rule.tries {
			if resp, body := e.get(path); resp.StatusCode != code {
				t.Errorf("%q: %s = %d, want %d (%.200s)", rule.says, path, resp.StatusCode, code, body)
			}
		}
	}
	// ascii=1 draws with +-| only.
	if _, body := e.get(p + "/diagram.txt?ascii=1"); strings.ContainsAny(body, "─│┌┐└┘") {
		t.Errorf("ascii=1 drew box-drawing characters:\n%s", body)
	}
}

// TestDocWebsocket checks the websocket examples of the doc: the table of
// stream queries, the example session up to its first change of the
// machine, and the error that answers a focus on an unknown pid.
func TestDocWebsocket(t *testing.T) {
	e, doc := docEnv(t)

	// The stream table: each query's first messages.
	rows := regexp.MustCompile("(?m)^\\| (`\\?[^|]*|\\*\\(none\\)\\*) \\| ([^|]*) \\| (on|off) \\|$").FindAllStringSubmatch(doc, -1)
	if len(rows) < 4 {
		t.Fatalf("%d rows in the stream table of %s", len(rows), apiDoc)
	}
	for _, row := range rows {
		queries := regexp.MustCompile("`(\\?[^`]*)`").FindAllStringSubmatch(row[1], -1)
		if row[1] == "*(none)*" {
			queries = [][]string{{"", ""}}
		}
		for _, q := range queries {
			query := strings.ReplaceAll(q[1], "=N", "=2554")
			want := map[string]int{}
			if row[2] != "off" {
				want[TypeSnapshot] = 0
				if strings.Contains(row[2], "focus") {
					want[TypeSnapshot] = 2554
				}
			}
			if row[3] == "on" {
				want[TypeProcesses] = 0
			}
			c := e.client(query)
			got := map[string]int{}
			for range want {
				m := e.read(c)
				got[m.Type] = m.Focus
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%q: first messages %v (type: focus), want %v", query, got, want)
			}
			e.quiet(c, 100*time.Millisecond)
			c.CloseNow()
		}
	}

	// The example session, up to the first change on the machine.
	var c *wsc
	session := doc[strings.Index(doc, "### Example session"):]
	session = session[strings.Index(session, "```")+4:]
	session = session[:strings.Index(session, "```")]
	for _, line := range strings.Split(session, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "→ GET /api/ws"):
			c = e.client(strings.TrimPrefix(line, "→ GET /api/ws"))
		case strings.HasPrefix(line, "→ {"):
			var r Request
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "→ ")), &r); err != nil {
				t.Fatalf("session: %q: %v", line, err)
			}
			send(t, c, r)
		case strings.HasPrefix(line, "← {"):
			want, err := docJSON(strings.TrimPrefix(line, "← "))
			if err != nil {
				t.Fatalf("session: %q: %v", line, err)
			}
			m := e.read(c)
			w := want.(map[string]any)
			delete(w, "seq") // the doc's server has scanned more often
			delete(w, "base")
			var got any
			json.Unmarshal(m.raw, &got)
			if err := within(w, got, "message"); err != nil {
				t.Errorf("session: got %.200s where the doc shows %s: %v", m.raw, line, err)
			}
		case strings.HasPrefix(line, "("):
			e.quiet(c, 100*time.Millisecond)
			goto errorExample
		}
	}
	t.Fatal("the example session has no change of the machine: the test reads up to the first one")

errorExample:
	// The error message: a focus on an unknown pid answers with it alone.
	block := jsonBlockRE.FindStringSubmatch(doc[strings.Index(doc, "**`error`**"):][strings.Index(doc[strings.Index(doc, "**`error`**"):], "\n"):])
	if block == nil {
		t.Fatal("no example after **`error`**")
	}
	var want ErrorMessage
	if err := json.Unmarshal([]byte(block[1]), &want); err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSuffix(strings.TrimPrefix(want.Error, "focus: no process with pid "), " (yet)")
	c = e.client("?graph=none&processes=1")
	e.read(c)
	send(t, c, map[string]any{"type": TypeFocus, "pid": json.Number(pid)})
	m := e.read(c)
	var got ErrorMessage
	json.Unmarshal(m.raw, &got)
	if got != want {
		t.Errorf("focus on pid %s: %s, the doc shows %s", pid, m.raw, block[1])
	}
	e.quiet(c, 200*time.Millisecond) // and nothing else
	if !strings.Contains(doc, "answered with this `error` alone") {
		t.Errorf("%s does not say that an unknown pid gets the error alone", apiDoc)
	}
}
