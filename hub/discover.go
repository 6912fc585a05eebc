package hub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ParseAgents parses a list of agents as --agents gives them, each
// "URL" or "NAME=URL". An agent without a NAME is named after its URL's
// host name, or its host and port when another agent has the same host
// name.
func ParseAgents(list []string) ([]Agent, error) {
	var out []Agent
	named := make([]bool, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, raw, hasName := strings.Cut(s, "=")
		if !hasName || strings.Contains(name, "://") {
			name, raw, hasName = "", s, false
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("agent %q: want http://HOST:PORT or https://HOST:PORT, optionally after NAME=", s)
		}
		if !hasName {
			name = u.Hostname()
		}
		if err := validHost(name); err != nil {
			return nil, fmt.Errorf("agent %q: %w", s, err)
		}
		out = append(out, Agent{Host: name, URL: u.Scheme + "://" + u.Host})
		named = append(named, hasName)
	}
	count := map[string]int{}
	for _, a := range out {
		count[a.Host]++
	}
	for i, a := range out {
		if count[a.Host] > 1 && !named[i] {
			u, _ := url.Parse(a.URL)
			out[i].Host = u.Host
		}
	}
	seen := map[string]bool{}
	for _, a := range out {
		if seen[a.Host] {
			return nil, errors.New("two agents named " + a.Host + ": name them with NAME=URL")
		}
		seen[a.Host] = true
	}
	return out, nil
}

// LookupFunc resolves a name to its IP addresses (net.Resolver.LookupNetIP
// with network "ip").
type LookupFunc func(ctx context.Context, name string) ([]netip.Addr, error)

// LookupDNS resolves with the system's resolver: every A and AAAA record.
func LookupDNS(ctx context.Context, name string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", name)
}

// Discover returns one agent per address the name resolves to (every A
// and AAAA record: the pods behind a Kubernetes headless Service), each
// named by its address and reached at scheme://ADDRESS:port, sorted.
func Discover(ctx context.Context, lookup LookupFunc, name, scheme string, port int) ([]Agent, error) {
	addrs, err := lookup(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", name, err)
	}
	var out []Agent
	for _, a := range addrs {
		a = a.Unmap()
		out = append(out, Agent{Host: a.String(), URL: scheme + "://" + net.JoinHostPort(a.String(), strconv.Itoa(port))})
	}
	slices.SortFunc(out, func(a, b Agent) int { return strings.Compare(a.Host, b.Host) })
	return slices.Compact(out), nil
}
