// Command webhooks delivers consolidate's transfer events to an HTTP
// endpoint: it takes them from a queue the Service publishes to
// (Config.EventQueues; the server example's -events flag) and POSTs each
// event's JSON to the receiver.
//
//	WEBHOOK_SECRET=… go run ./examples/webhooks -redis redis://127.0.0.1:6379 -queue webhooks -url https://example.com/hooks
//
// Every delivery carries two headers:
//
//	Consolidate-Event-Id: evt_42
//	Consolidate-Signature: t=1767225600,v1=<hex HMAC-SHA256(secret, "1767225600." + body)>
//
// A receiver verifies the signature over the raw body with the shared
// secret (in constant time) and refuses timestamps more than a few minutes
// off, which stops replays of recorded deliveries.
//
// A delivery succeeds when the receiver answers 2xx. Anything else (an
// error status, a redirect, a timeout, a refused connection) is retried
// with exponential backoff, -backoff doubling up to -backoff-max, and after
// -attempts deliveries the event goes to the queue's dead letters, where it
// stays until an operator requeues it.
//
// An event the receiver answered 2xx for is never sent to it again: its ID
// is recorded (in Redis, shared by every consumer of the same receiver,
// for -remember) before the message is acknowledged, and every event is
// checked against the record before it is sent. This drops the copies that
// at-least-once publishing produces: the Service publishes an event again
// if it crashed before recording the publish, with the same ID, and a
// consumer that crashed before its ack has the message redelivered. What no
// consumer can rule out is a crash after the receiver's 2xx and before the
// record is written; receivers that must never see a repeat also dedupe on
// Consolidate-Event-Id.
//
// The secret comes from the environment (WEBHOOK_SECRET), never a flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/redis"
)

// secretEnv names the environment variable with the signing secret.
const secretEnv = "WEBHOOK_SECRET"

type config struct {
	redisURL   string
	queue      string
	url        string
	secret     []byte
	attempts   int
	backoff    time.Duration
	backoffMax time.Duration
	timeout    time.Duration
	lease      time.Duration
	remember   time.Duration
	workers    int
}

func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("webhooks", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.redisURL, "redis", getenv("CONSOLIDATE_REDIS_URL"), "redis:// URL of the Redis or Dragonfly holding the event queue (env CONSOLIDATE_REDIS_URL)")
	fs.StringVar(&c.queue, "queue", "webhooks", "the event queue to consume")
	fs.StringVar(&c.url, "url", getenv("WEBHOOK_URL"), "the receiver's http(s) URL (env WEBHOOK_URL)")
	fs.IntVar(&c.attempts, "attempts", 10, "deliveries of one event before it is dead-lettered")
	fs.DurationVar(&c.backoff, "backoff", time.Second, "delay after the first failed delivery, doubling after each")
	fs.DurationVar(&c.backoffMax, "backoff-max", 10*time.Minute, "longest delay between deliveries")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long the receiver has to answer")
	fs.DurationVar(&c.lease, "lease", time.Minute, "how long a claimed event is hidden from other consumers; above twice -timeout")
	fs.DurationVar(&c.remember, "remember", 7*24*time.Hour, "how long delivered event IDs are remembered")
	fs.IntVar(&c.workers, "workers", 4, "deliveries under way at once")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	c.secret = []byte(getenv(secretEnv))
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if c.redisURL == "" {
		errs = append(errs, errors.New("-redis is required: the queue must be shared with the Service that publishes to it"))
	}
	if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("-url must be an http or https URL"))
	}
	if len(c.secret) < 16 {
		errs = append(errs, fmt.Errorf("%s must hold a secret of at least 16 bytes", secretEnv))
	}
	if c.attempts < 1 || c.workers < 1 {
		errs = append(errs, errors.New("-attempts and -workers must be at least 1"))
	}
	if c.backoff <= 0 || c.backoffMax < c.backoff || c.timeout <= 0 || c.remember <= 0 {
		errs = append(errs, errors.New("-backoff, -timeout and -remember must be positive and -backoff-max at least -backoff"))
	}
	if c.lease <= 2*c.timeout {
		// A lease that ran out mid-delivery would hand the event to a
		// second consumer while the first is still sending it.
		errs = append(errs, errors.New("-lease must be above twice -timeout"))
	}
	return c, errors.Join(errs...)
}

func main() {
	c, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhooks:", err)
		os.Exit(2)
	}
	os.Unsetenv(secretEnv)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, log); err != nil {
		log.Error("webhooks stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config, log *slog.Logger) error {
	opt, err := goredis.ParseURL(c.redisURL)
	if err != nil {
		return errors.New("the Redis URL is malformed")
	}
	client := goredis.NewClient(opt)
	defer client.Close()
	if err := client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", opt.Addr, err)
	}
	d := newDeliverer(c, redis.NewQueue(client, nil), newRedisSeen(client, c.url, c.remember), log)
	log.Info("delivering", "queue", c.queue, "redis", opt.Addr, "attempts", c.attempts)
	d.run(ctx)
	log.Info("stopped")
	return nil
}

func newDeliverer(c config, q consolidate.Queue, shared seenSet, log *slog.Logger) *deliverer {
	return &deliverer{
		queue:  q,
		name:   c.queue,
		url:    c.url,
		secret: c.secret,
		client: &http.Client{
			Timeout: c.timeout,
			// A signed event goes to the configured receiver only.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		local:    newMemorySeen(c.remember),
		shared:   shared,
		attempts: c.attempts,
		backoff:  c.backoff,
		maxDelay: c.backoffMax,
		lease:    c.lease,
		poll:     200 * time.Millisecond,
		workers:  c.workers,
		log:      log,
	}
}
