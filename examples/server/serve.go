package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/httpapi"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/sqlite"
	"go.opentelemetry.io/otel/metric"
)

// openStore opens the ledger: the PostgreSQL database with -postgres, the
// SQLite file -db, or a SQLite file in a new temporary directory. The
// returned func closes it, and removes a temporary ledger.
func openStore(ctx context.Context, c config, mp metric.MeterProvider, log *slog.Logger) (consolidate.Store, func(), error) {
	if c.postgres != "" {
		s, err := postgres.Open(ctx, c.postgres, nil)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	path, dir := c.db, ""
	if c.temporary() {
		var err error
		if dir, err = os.MkdirTemp("", "consolidate-server-"); err != nil {
			return nil, nil, err
		}
		path = filepath.Join(dir, "ledger.db")
		log.Info("temporary ledger, removed at exit; -db keeps one across runs", "path", path)
	}
	s, err := sqlite.Open(path, &sqlite.Options{MeterProvider: mp})
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir)
		}
		return nil, nil, err
	}
	return s, func() {
		s.Close()
		if dir != "" {
			os.RemoveAll(dir)
		}
	}, nil
}

// run serves until ctx is done, then shuts down in order: HTTP first, so
// no new transfer arrives; then (in-process chain) the pending transfers;
// then the workers; then the backends. unhook restores the default signal
// handling once shutdown starts, so a second signal exits at once. getenv
// reads the OpenTelemetry exporters' settings.
func run(ctx context.Context, unhook func(), c config, getenv func(string) string, log *slog.Logger) error {
	log.Info("starting", "config", c.String())
	tel, err := openTelemetry(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer func() {
		// Flush what the OTLP exporters hold, briefly: a collector that
		// is down must not hold the exit up.
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.shutdown(flush); err != nil {
			log.Warn("telemetry shutdown", "err", err)
		}
	}()
	store, closeStore, err := openStore(ctx, c, tel.meter, log)
	if err != nil {
		return err
	}
	defer closeStore()

	mining, stopMining := context.WithCancel(context.Background())
	defer stopMining()
	nw, err := openNetwork(ctx, mining, c, log)
	if err != nil {
		return err
	}
	defer nw.close()
	// A ledger kept across runs of an in-process chain must not outlive
	// the transfers of a run: they cannot complete on the next chain.
	// Those an earlier run left pending are reported, not waited for.
	drains := nw.local != nil && !c.temporary()
	var orphans int64
	if drains {
		orphans = warnOrphans(ctx, store, log)
	}

	b, err := openBackends(ctx, c, log)
	if err != nil {
		return err
	}
	defer b.close()

	cfg := serviceConfig(c, b, log)
	cfg.MeterProvider, cfg.TracerProvider = tel.meter, tel.tracer
	svc, err := consolidate.New(store, nw.chain, cfg)
	if err != nil {
		return err
	}

	working, stopWorking := context.WithCancel(context.Background())
	defer stopWorking()
	var worker sync.WaitGroup
	if c.works() {
		worker.Go(func() { svc.Run(working) })
		log.Info("reconciling", "workers", c.workers, "event_queues", c.events)
	}

	var srv *http.Server
	served := make(chan error, 1)
	if c.serves() {
		if srv, err = listen(c, svc, tel.metrics, log, served); err != nil {
			stopWorking()
			worker.Wait()
			return err
		}
	}

	select {
	case <-ctx.Done():
	case err = <-served:
		// The listener failed on its own: shut down the rest as usual.
	}
	unhook()
	log.Info("shutting down")
	deadline, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	if srv != nil {
		if serr := srv.Shutdown(deadline); serr != nil {
			log.Warn("requests still in flight at the shutdown timeout", "err", serr)
		}
	}
	if drains && c.works() {
		drain(deadline, store, orphans, log)
	}
	stopWorking()
	worker.Wait()
	log.Info("stopped")
	return err
}

// serviceConfig tunes the Service for the chain it runs on: seconds between
// checks on the in-process chain, the library's defaults on a real one.
func serviceConfig(c config, b *backends, log *slog.Logger) *consolidate.Config {
	cfg := &consolidate.Config{
		Locker:      b.locker,
		Cache:       b.cache,
		Queue:       b.queue,
		Workers:     c.workers,
		EventQueues: c.events,
		Logger:      log,
		Backoff:     consolidate.Backoff{Base: c.checkBase, Max: c.checkMax},
	}
	if c.embedded() {
		if cfg.Backoff.Base == 0 {
			cfg.Backoff.Base = 200 * time.Millisecond
		}
		if cfg.Backoff.Max == 0 {
			cfg.Backoff.Max = max(2*time.Second, cfg.Backoff.Base)
		}
		cfg.PollInterval = 20 * time.Millisecond
	}
	return cfg
}

// listen starts the HTTP server; its end is reported on served. The
// operator API and status page are mounted only with an operator token.
func listen(c config, svc *consolidate.Service, metrics http.Handler, log *slog.Logger, served chan<- error) (*http.Server, error) {
	opts := &httpapi.Options{Logger: log}
	if c.operatorToken != "" {
		op, err := httpapi.NewOperator(svc, &httpapi.OperatorOptions{Token: c.operatorToken, Logger: log})
		if err != nil {
			return nil, err
		}
		opts.Operator = op
	}
	api, err := httpapi.New(svc, opts)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			served <- err
		}
	}()
	log.Info("serving HTTP", "addr", ln.Addr().String(), "operator_api", c.operatorToken != "", "metrics", "/metrics")
	return srv, nil
}

// drain waits until no transfer with an ID above after is pending, or ctx
// ends. On the in-process chain a transfer still pending at exit can never
// complete: the chain, its mempool and its wallet go with the process.
func drain(ctx context.Context, store consolidate.Store, after int64, log *slog.Logger) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	logged := false
	for {
		n, _, err := pending(ctx, store, after)
		if err == nil && n == 0 {
			return
		}
		if !logged && err == nil {
			log.Info("waiting for pending transfers on the in-process chain", "pending", n)
			logged = true
		}
		select {
		case <-ctx.Done():
			log.Error("shutdown timeout with transfers still pending; on the in-process chain they cannot complete after exit", "pending", n, "err", err)
			return
		case <-t.C:
		}
	}
}

// pending counts the PENDING transfers with an ID above after that are
// still scheduled for checks, and returns the highest such ID (or after).
func pending(ctx context.Context, store consolidate.Store, after int64) (int, int64, error) {
	far := time.Now().AddDate(100, 0, 0)
	n := 0
	for {
		ids, err := store.Due(ctx, far, after, 1000)
		if err != nil || len(ids) == 0 {
			return n, after, err
		}
		n += len(ids)
		after = ids[len(ids)-1]
	}
}

// warnOrphans reports transfers left pending by an earlier run on an
// in-process chain (one that was killed rather than shut down): that chain
// is gone, so they stay PENDING until an operator resolves them. It returns
// the highest of their IDs; every transfer of this run is above it.
func warnOrphans(ctx context.Context, store consolidate.Store, log *slog.Logger) int64 {
	n, last, err := pending(ctx, store, 0)
	if err != nil {
		log.Warn("cannot count pending transfers", "err", err)
	}
	if n > 0 {
		log.Warn("transfers pending from an earlier in-process chain cannot complete on this one", "pending", n)
	}
	return last
}
