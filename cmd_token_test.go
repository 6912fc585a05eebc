package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAccessToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	const tok = "0123456789abcdef-token"
	private := write("private", tok+"\n", 0o600)
	shared := write("shared", tok, 0o644)
	empty := write("empty", " \n", 0o600)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == TokenEnv {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		name, flag, file, env string
		want, warn, err       string
	}{
		{name: "none"},
		{name: "file", file: private, env: "ignored-ignored-ignored", want: tok},
		{name: "file others can read", file: shared, want: tok, warn: "readable by others"},
		{name: "env", env: tok, want: tok},
		{name: "flag", flag: tok, want: tok, warn: "/proc/PID/cmdline"},
		{name: "both", flag: tok, file: private, err: "give one"},
		{name: "missing file", file: filepath.Join(dir, "nope"), err: "no such file"},
		{name: "empty file", file: empty, err: "empty"},
		{name: "short", env: "short", err: "at least 16"},
		{name: "spaces", flag: "with spaces in the token", err: "printable"},
	} {
		got, warnings, err := accessToken(c.flag, c.file, env(c.env))
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
		case err != nil || got != c.want:
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		case c.warn == "" && len(warnings) > 0, c.warn != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], c.warn)):
			t.Errorf("%s: warnings %q, want %q", c.name, warnings, c.warn)
		}
	}
}
