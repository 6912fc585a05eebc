package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/hub"
	"github.com/fdscope/fdscope/live"
	"github.com/fdscope/fdscope/static"
	"github.com/fdscope/fdscope/web"
)

// runHub runs the hub: it subscribes to many agents (fdscope serve on
// other hosts) and serves the dashboard over their merged graph
// (docs/hub.md).
func runHub(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("hub", "fdscope hub [flags]: subscribe to the agents (fdscope serve on other hosts) and serve the\n"+
		"page, the REST API and the websocket of docs/api.md over their merged graph (docs/hub.md).",
		"fdscope hub --agents http://10.0.0.1:8080,http://10.0.0.2:8080 --agent-token-file /etc/fdscope/token",
		"fdscope hub --agents web=http://10.0.0.1:8080,db=http://10.0.0.2:8080 --agent-token-file token   # named hosts",
		"fdscope hub --agents-dns fdscope-agents.fdscope.svc.cluster.local --agent-token-file /var/run/fdscope/token --listen :8080 --token-file /var/run/fdscope/hub-token",
	)
	agentsFlag := fs.String("agents", "", "the agents, comma-separated: URL or NAME=URL (http://HOST:PORT)")
	agentsDNS := fs.String("agents-dns", "", "a DNS name whose every A/AAAA record is an agent (a Kubernetes headless Service), re-resolved every --agents-dns-interval")
	dnsInterval := fs.Duration("agents-dns-interval", 30*time.Second, "how often to resolve --agents-dns again")
	agentPort := fs.Int("agent-port", 8080, "the agents' port, for the agents found by --agents-dns")
	agentScheme := fs.String("agent-scheme", "http", "http or https, for the agents found by --agents-dns")
	agentTokenFile := fs.String("agent-token-file", "", "file holding the access token the agents require")
	dropAfter := fs.Duration("drop-after", 2*time.Minute, "how long an unreachable agent's processes stay in the graph, marked")
	maxMessage := fs.Int64("max-agent-message", 256<<20, "the largest message (a snapshot) read from an agent, in bytes")
	listen := fs.String("listen", defaultListen, "address to listen on; one not on loopback requires an access token")
	tokenFile := fs.String("token-file", "", "file holding the access token of the hub's own clients (default $"+TokenEnv+"; generated when not on loopback)")
	var allowHosts []string
	fs.Func("allow-host", "another name the Host header may carry (repeatable; for a DNS name or a proxy)", func(s string) error {
		allowHosts = append(allowHosts, s)
		return nil
	})
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.parse(args, stdout); err != nil {
		return helpOrErr(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("hub: unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("hub: --log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	listed, err := hub.ParseAgents(strings.Split(*agentsFlag, ","))
	if err != nil {
		return fmt.Errorf("hub: --agents: %w", err)
	}
	if len(listed) == 0 && *agentsDNS == "" {
		return errors.New("hub: no agents: give --agents or --agents-dns")
	}
	if *agentScheme != "http" && *agentScheme != "https" {
		return fmt.Errorf("hub: --agent-scheme %q: want http or https", *agentScheme)
	}
	if *agentPort < 1 || *agentPort > 65535 || *dnsInterval <= 0 || *dropAfter <= 0 || *maxMessage < 1<<10 {
		return errors.New("hub: want --agent-port in 1-65535, positive --agents-dns-interval and --drop-after, --max-agent-message ≥ 1024")
	}
	var agentToken string
	if *agentTokenFile != "" {
		t, warnings, err := accessToken("", *agentTokenFile, os.Getenv)
		if err != nil {
			return fmt.Errorf("hub: agent %w", err)
		}
		for _, w := range warnings {
			log.Warn(w)
		}
		agentToken = t
	}
	token, warnings, err := accessToken("", *tokenFile, os.Getenv)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	generated := false
	if !api.IsLoopback(*listen) && token == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("hub: generate a token: %w", err)
		}
		token, generated = hex.EncodeToString(b[:]), true
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store := live.NewStore(live.DefaultWindow)
	h, err := hub.New(hub.Options{Store: store, Token: agentToken, Log: log.With("component", "hub"), Registry: reg,
		DropAfter: *dropAfter, MaxMessageBytes: *maxMessage})
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if err := h.SetAgents(listed); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	srv, err := api.New(api.Options{
		Source: store, Listen: *listen, AllowedHosts: allowHosts, Token: token,
		Page: web.Dashboard(), Static: static.FS,
		Registry: reg, Log: log.With("component", "api"),
		Window: live.DefaultWindow / 2,
	})
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	ln, err := listenOn(*listen, true, 1, stderr)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer ln.Close()
	hs := newHTTPServer(srv, log)
	url := "http://" + displayAddr(ln.Addr().String()) + "/"
	if generated {
		fmt.Fprintf(stdout, "fdscope: hub serving on %s?token=%s\n", url, token)
	} else {
		fmt.Fprintf(stdout, "fdscope: hub serving on %s\n", url)
	}
	log.Info("hub serving", "addr", ln.Addr().String(), "agents", len(listed), "agents_dns", *agentsDNS)

	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { h.Run(runCtx) })
	if *agentsDNS != "" {
		wg.Go(func() {
			discoverLoop(runCtx, h, listed, *agentsDNS, *agentScheme, *agentPort, *dnsInterval, log)
		})
	}
	return serveUntilDone(ctx, "hub", hs, ln, srv, stop, &wg, log)
}

// discoverLoop resolves name every interval and makes its addresses,
// with the listed agents, the hub's agents. A failed resolution keeps the
// agents of the last one: a DNS hiccup does not empty the picture.
func discoverLoop(ctx context.Context, h *hub.Hub, listed []hub.Agent, name, scheme string, port int, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := -1
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		found, err := hub.Discover(rctx, hub.LookupDNS, name, scheme, port)
		cancel()
		switch {
		case err != nil:
			log.Warn("agents not resolved; keeping the last ones", "name", name, "err", err)
		default:
			if err := h.SetAgents(append(append([]hub.Agent{}, listed...), found...)); err != nil {
				log.Warn("agents", "err", err)
			} else if len(found) != last {
				log.Info("agents resolved", "name", name, "count", len(found))
				last = len(found)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
