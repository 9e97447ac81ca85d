package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-consolidate/consolidate"
)

// Headers of a delivery.
const (
	// SignatureHeader is "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>" keyed with the shared secret>". Signing the time with
	// the body lets receivers refuse old deliveries replayed by someone
	// who recorded them.
	SignatureHeader = "Consolidate-Signature"
	// EventIDHeader carries the event ID, for receivers that dedupe too.
	EventIDHeader = "Consolidate-Event-Id"
)

// deliverer takes events from a queue and POSTs each to one receiver.
type deliverer struct {
	queue    consolidate.Queue
	name     string // the queue
	url      string // the receiver
	secret   []byte
	client   *http.Client
	local    *memorySeen
	shared   seenSet // nil without Redis
	attempts int     // deliveries before the dead letters
	backoff  time.Duration
	maxDelay time.Duration
	lease    time.Duration
	poll     time.Duration
	workers  int
	log      *slog.Logger
}

// run delivers until ctx is done; deliveries under way then finish.
func (d *deliverer) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range d.workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				ds, err := d.queue.Claim(ctx, d.name, 1, d.lease)
				if err != nil && ctx.Err() == nil {
					d.log.Warn("claim", "queue", d.name, "err", err)
				}
				if len(ds) == 0 {
					sleep(ctx, d.poll)
					continue
				}
				for _, del := range ds {
					d.handle(context.WithoutCancel(ctx), del)
				}
			}
		})
	}
	wg.Wait()
}

// handle delivers one event and settles its message: ack after a 2xx (or
// when the receiver already has it), retry with backoff after a failure,
// dead letters once the budget is spent.
func (d *deliverer) handle(ctx context.Context, del consolidate.Delivery) {
	log := d.log.With("event", del.ID, "attempt", del.Attempt)
	var ev consolidate.EventMessage
	if err := json.Unmarshal(del.Body, &ev); err != nil || ev.ID != del.ID {
		log.Error("not an event message; dead-lettered", "err", err)
		settled(log, d.queue.Bury(ctx, del, "not an event message"))
		return
	}
	done, err := d.delivered(ctx, del.ID)
	if err != nil {
		// Not knowing is not permission to send again.
		log.Warn("cannot tell whether the event was delivered; retrying later", "err", err)
		settled(log, d.queue.Retry(ctx, del, d.backoff))
		return
	}
	if done {
		log.Info("already delivered; dropped")
		settled(log, d.queue.Ack(ctx, del))
		return
	}

	if err := d.post(ctx, del.ID, del.Body); err != nil {
		if del.Attempt >= d.attempts {
			log.Error("delivery failed; budget spent, dead-lettered", "err", err)
			settled(log, d.queue.Bury(ctx, del, fmt.Sprintf("%d attempts, last: %v", del.Attempt, err)))
			return
		}
		delay := d.delay(del.Attempt)
		log.Warn("delivery failed; retrying", "err", err, "in", delay)
		settled(log, d.queue.Retry(ctx, del, delay))
		return
	}
	// Remember first, ack second: a crash in between redelivers the
	// message, and the record drops it.
	_ = d.local.Mark(ctx, del.ID)
	if err := d.markShared(ctx, del.ID); err != nil {
		log.Warn("delivered, but not recorded in the shared set; retrying the record", "err", err)
		settled(log, d.queue.Retry(ctx, del, d.backoff))
		return
	}
	log.Info("delivered")
	settled(log, d.queue.Ack(ctx, del))
}

// delivered reports whether the receiver already answered 2xx for id. An
// event this process delivered but could not record in the shared set is
// recorded there now.
func (d *deliverer) delivered(ctx context.Context, id string) (bool, error) {
	if ok, _ := d.local.Seen(ctx, id); ok {
		return true, d.markShared(ctx, id)
	}
	if d.shared == nil {
		return false, nil
	}
	ok, err := d.shared.Seen(ctx, id)
	if ok {
		_ = d.local.Mark(ctx, id)
	}
	return ok, err
}

func (d *deliverer) markShared(ctx context.Context, id string) error {
	if d.shared == nil {
		return nil
	}
	return d.shared.Mark(ctx, id)
}

// settled logs a failed ack, retry or bury. A lost lease means another
// consumer has the message now; nothing to do.
func settled(log *slog.Logger, err error) {
	if err != nil && !errors.Is(err, consolidate.ErrLeaseLost) {
		log.Warn("settle message", "err", err)
	}
}

// delay is min(backoff·2^(attempt-1), maxDelay).
func (d *deliverer) delay(attempt int) time.Duration {
	delay := d.backoff
	for i := 1; i < attempt && delay < d.maxDelay; i++ {
		delay *= 2
	}
	return min(delay, d.maxDelay)
}

// post sends one signed delivery. Anything but a 2xx answer is an error.
func (d *deliverer) post(ctx context.Context, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "consolidate-webhooks")
	req.Header.Set(EventIDHeader, id)
	req.Header.Set(SignatureHeader, sign(d.secret, time.Now(), body))
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// sign returns the SignatureHeader value for body sent at t.
func sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// verify is what a receiver does with the SignatureHeader: recompute the
// HMAC over "<t>.<body>", compare in constant time, and refuse deliveries
// signed more than tolerance ago (or ahead).
func verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature too old or from the future")
	}
	want := sign(secret, time.Unix(sec, 0), body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return errors.New("signature mismatch")
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
