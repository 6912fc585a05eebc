package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fdscope/fdscope/api"
)

// newHTTPServer is the HTTP server of serve and hub around srv.
func newHTTPServer(srv *api.Server, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           srv.Handler(),
		ConnContext:       srv.ConnContext, // who owns each connection, looked up once
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// serveUntilDone serves hs on ln until ctx is done or serving fails, then
// shuts down within shutdownGrace: stop ends the background work (the
// loop, the hub), srv closes its websockets with their close frame, hs
// finishes its requests, and the goroutines of wg get what is left of the
// grace. It returns why serving ended early, nil on ctx's end. cmd names
// the command in that error.
func serveUntilDone(ctx context.Context, cmd string, hs *http.Server, ln net.Listener, srv *api.Server, stop func(), wg *sync.WaitGroup, log *slog.Logger) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	var err error
	select {
	case err = <-serveErr:
		err = fmt.Errorf("%s: %w", cmd, err)
	case <-ctx.Done():
		log.Info("shutting down")
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var sd sync.WaitGroup
	sd.Go(func() {
		if e := srv.Shutdown(sctx); e != nil {
			log.Warn("websocket clients still closing", "err", e)
		}
	})
	sd.Go(func() {
		if e := hs.Shutdown(sctx); e != nil && !errors.Is(e, context.DeadlineExceeded) {
			log.Warn("http shutdown", "err", e)
		}
	})
	sd.Wait()
	hs.Close()
	// The background work stops at its next cancellation check; do not
	// wait past the grace.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
	}
	return err
}
