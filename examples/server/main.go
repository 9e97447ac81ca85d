// Command server serves the consolidate HTTP API (package httpapi) and
// reconciles transfers in the background.
//
// With no flags it runs on embedded defaults: a new temporary SQLite
// ledger, an in-process Ethereum chain that mines a block every 500 ms,
// and in-process lock, cache and queue, all in one process:
//
//	CONSOLIDATE_OPERATOR_TOKEN=$(openssl rand -hex 32) go run ./examples/server
//
// The operator token (an environment variable, never a flag) mounts the
// operator API and the status page at /operator/ (package httpapi), and
// the routes that create and fund accounts, all behind that token; without
// it none of them is served:
//
//	curl -s -H "Authorization: Bearer $CONSOLIDATE_OPERATOR_TOKEN" -H 'Content-Type: application/json' -d '{"deposit_in_wei": "1000000000000000000"}' localhost:8080/accounts
//	curl -s -H 'Content-Type: application/json' -d '{"user_account_id": 1, "to_public_address": "0x1111111111111111111111111111111111111111", "transaction_amount_in_wei": "1000"}' localhost:8080/transactions
//	curl -s localhost:8080/transactions/1
//
// The start-up log names the in-process chain's reverting_contract: a
// transfer to it is mined, reverts, and ends FAILED.
//
// The in-process chain is one process's memory: each start begins a new
// chain with a new wallet. So by default the ledger lives as long as the
// chain: each run starts on a new temporary ledger, removed at exit, and
// no stop, graceful or killed, leaves a transfer pending with its funds
// held for a later run; the requests above give the same answers after
// every start.
//
// -db FILE or -postgres DSN keeps the ledger across runs (with -rpc, the
// file consolidate.db by default). On the in-process chain, shutdown then waits (up to
// -shutdown-timeout) until every pending transfer is final, since the next
// chain cannot complete it; a process killed instead leaves its pending
// transfers PENDING, their funds held, and the next start reports them.
// The in-process chain cannot be shared, so -role api and -role worker
// need a real chain, and two processes must not share a ledger on
// in-process chains.
//
// For several processes, point them at one Redis or Dragonfly (-redis
// redis://host:6379) for the lock, cache and queue (and publish events there
// with -events webhooks for examples/webhooks to deliver), or lock with Redlock
// over independent nodes (-redlock redis://a:6379,redis://b:6379,redis://c:6379);
// send on a real chain with -rpc https://… and the wallet key in
// CONSOLIDATE_PRIVATE_KEY (never a flag); and split the HTTP API from the
// reconciling workers with -role api and -role worker. The flags for the
// address, role, database, Redis, Redlock, RPC URL, event queues and log
// level can also be set by environment variable; -help names them.
//
// /metrics serves Prometheus text: the Service's and the SQLite store's
// metrics (docs/metrics.md) through the OpenTelemetry SDK, with Go runtime
// and process metrics. With OTEL_EXPORTER_OTLP_ENDPOINT (or the
// per-signal OTEL_EXPORTER_OTLP_METRICS_ENDPOINT and
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, metrics and traces are also
// exported over OTLP/HTTP. Logs are JSON on standard error.
//
// SIGINT or SIGTERM shuts it down gracefully: the listener closes, requests
// in flight finish (their account locks released), running reconcile tasks
// finish and record their outcome; with a kept ledger on the in-process chain, the
// pending transfers finish too (see above). A second signal exits at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(2)
	}
	// Keep the secrets out of anything this process starts.
	os.Unsetenv(keyEnv)
	os.Unsetenv(operatorTokenEnv)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: c.logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, stop, c, os.Getenv, log); err != nil {
		log.Error("server stopped", "err", err)
		os.Exit(1)
	}
}
