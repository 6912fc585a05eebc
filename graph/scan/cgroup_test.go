package scan

import "testing"

func TestParseCgroup(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"v2", "0::/system.slice/nginx.service\n", "/system.slice/nginx.service"},
		{"v2 root", "0::/\n", "/"},
		{"hybrid prefers v2", "12:name=systemd:/user.slice\n0::/system.slice/sshd.service\n", "/system.slice/sshd.service"},
		{"v1 systemd", "4:memory:/x\n1:name=systemd:/system.slice/cron.service\n", "/system.slice/cron.service"},
		{"v1 without systemd", "4:memory:/x\n3:cpu:/\n", ""},
		{"empty", "", ""},
		{"garbage", "no colons here\n0:\n0::relative\n:::\n", ""},
		{"no trailing newline", "0::/docker/abc", "/docker/abc"},
	} {
		if got := parseCgroup([]byte(tc.in)); got != tc.want {
			t.Errorf("%s: parseCgroup(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func FuzzParseCgroup(f *testing.F) {
	f.Add([]byte("0::/system.slice/a.service\n"))
	f.Add([]byte("1:name=systemd:/x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := parseCgroup(data)
		if got != "" && got[0] != '/' {
			t.Fatalf("parseCgroup(%q) = %q: not an absolute path", data, got)
		}
	})
}
