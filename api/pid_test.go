package api

import (
	"net/http"
	"testing"
)

func TestParsePIDStrict(t *testing.T) {
	for s, want := range map[string]int{
		"1": 1, "42": 42, "4194304": MaxPID,
		"": 0, "0": 0, "+1": 0, "-1": 0, "01": 0, " 1": 0, "1 ": 0, "1e3": 0, "0x10": 0,
		"4194305": 0, "99999999999999999999": 0, "١": 0, // an Arabic-Indic digit one
	} {
		got, err := ParsePID(s)
		if want == 0 && err == nil {
			t.Errorf("ParsePID(%q) = %d, want an error", s, got)
		}
		if want != 0 && (err != nil || got != want) {
			t.Errorf("ParsePID(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
}

// TestStrictPIDRoutes: what is not a pid as the kernel writes one is a bad
// request, on every route that takes one, even where strconv.Atoi would
// have read pid 1 (which exists).
func TestStrictPIDRoutes(t *testing.T) {
	e := newEnv(t, nil)
	if resp, _ := e.get("/api/processes/1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/processes/1 = %d", resp.StatusCode)
	}
	for _, p := range []string{"+1", "01", "%201", "1%20", "1e0", "4194305"} {
		for _, route := range []string{"/api/processes/" + p, "/api/processes/" + p + "/peers", "/api/processes/" + p + "/diagram.txt"} {
			if resp, body := e.get(route); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s = %d %s, want 400", route, resp.StatusCode, body)
			}
		}
		if _, resp, err := e.dial("?pid=" + p); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("websocket ?pid=%s: %v %v, want 400", p, err, resp)
		}
	}
}
