package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// TokenEnv is the environment variable serve reads its access token from
// when neither --token-file nor --token is given. Unlike a command line,
// a process's environment is readable only by its own user and root.
const TokenEnv = "FDSCOPE_TOKEN"

// MinTokenLen is the shortest access token serve takes.
const MinTokenLen = 16

// accessToken returns the access token given by --token-file (file), by
// $FDSCOPE_TOKEN or by --token (flag), and warnings to log: a token on the
// command line, or in a file others can read, is not secret.
func accessToken(flag, file string, getenv func(string) string) (token string, warnings []string, err error) {
	switch {
	case flag != "" && file != "":
		return "", nil, errors.New("--token and --token-file: give one")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", nil, fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return "", nil, fmt.Errorf("--token-file: %s is empty", file)
		}
		if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o077 != 0 {
			warnings = append(warnings, fmt.Sprintf("the token file %s is readable by others (mode %v): chmod 600 it", file, st.Mode().Perm()))
		}
	case flag != "":
		token = flag
		warnings = append(warnings, "--token is readable by every user of the machine in /proc/PID/cmdline: "+
			"use --token-file or $"+TokenEnv+" instead")
	default:
		token = strings.TrimSpace(getenv(TokenEnv))
	}
	switch {
	case token == "":
	case len(token) < MinTokenLen:
		return "", nil, fmt.Errorf("the access token is %d characters, want at least %d", len(token), MinTokenLen)
	case strings.ContainsFunc(token, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		return "", nil, errors.New("the access token must be printable ASCII without spaces")
	}
	return token, warnings, nil
}
