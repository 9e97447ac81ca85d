package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/token"
	goredis "github.com/redis/go-redis/v9"
)

// QueueOptions configures a Queue. The zero value is ready to
// use.
type QueueOptions struct {
	// Prefix starts every key. It may not contain '{' or '}', which would
	// move the hash tag. Defaults to "consolidate:".
	Prefix string
	// Namespace is the hash tag that all queues of this Queue share:
	// their keys are <Prefix>{<Namespace>}:q:<queue>:…, so on Redis Cluster
	// they live in one slot and an Enqueue into several queues is one
	// atomic script. The price is that one namespace's queues are served
	// by one cluster node; spread load with several Queues in
	// different namespaces. It follows the rules of a queue name.
	// Defaults to "default".
	Namespace string
}

// Queue is a Queue on Redis, Redis Cluster or Dragonfly (run with
// --cluster_mode=emulated --lock_on_hashtags, or plain). Every operation is
// one Lua script over keys that share the namespace's hash tag, so each is
// atomic, including an Enqueue that spans several queues. Calls made
// concurrently through one Queue are combined: Enqueues that arrive
// while one is under way share the next script run and round trip, as do
// Acks, Retries and Burials, and Claims of one queue. Times are the
// server's. Dead letters are kept until Requeue or Delete; nothing trims
// them. Claim does not block: poll it.
//
// Messages are as durable as the server's persistence makes them; the
// Service does not depend on it, since every PENDING transaction is its
// own record and the sweeper enqueues it again.
type Queue struct {
	client goredis.UniversalClient
	base   string // <prefix>{<namespace>}:q:
	err    error  // a configuration error, returned by every call

	// Concurrent Enqueues share one script run, and so do concurrent
	// Acks, Retries and Burials.
	enqueues redisBatcher[[]consolidate.Message]
	settles  redisBatcher[redisSettle]

	// Concurrent Claims of one queue share one script run too.
	claimsMu sync.Mutex
	claims   map[string]*redisBatcher[*redisClaim]
}

// redisClaim is one Claim; the run that performs it fills out.
type redisClaim struct {
	max   int
	lease int64 // ms
	out   []consolidate.Delivery
}

// redisSettle is one Ack, Retry or Bury.
type redisSettle struct {
	op  string // "ack", "retry" or "bury"
	d   consolidate.Delivery
	arg any // delay ms (retry) or reason (bury)
}

var (
	_ consolidate.Queue          = (*Queue)(nil)
	_ consolidate.QueueInspector = (*Queue)(nil)
)

// redisReapLimit bounds how many expired leases one Claim returns to
// waiting, so that a claim after a mass crash stays a short script; the
// rest follow on the next claims.
const redisReapLimit = 1000

// NewQueue returns a Queue on client. opts may be nil. Invalid
// options are reported by every method of the returned queue.
func NewQueue(client goredis.UniversalClient, opts *QueueOptions) *Queue {
	var o QueueOptions
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = defaultRedisPrefix
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	q := &Queue{client: client, base: o.Prefix + "{" + o.Namespace + "}:q:"}
	q.enqueues.run = q.runEnqueues
	q.settles.run = q.runSettles
	switch {
	case client == nil:
		q.err = errNoRedisClient
	case strings.ContainsAny(o.Prefix, "{}"):
		q.err = fmt.Errorf("consolidate: redis queue prefix %q contains a brace", o.Prefix)
	default:
		if err := consolidate.ValidateMessage(consolidate.Message{Queue: o.Namespace, ID: "-"}); err != nil {
			q.err = fmt.Errorf("consolidate: redis queue namespace %q: %v", o.Namespace, err)
		}
	}
	return q
}

// redisQueueKeys are the keys of one queue.
type redisQueueKeys struct {
	waiting, inflight, dead, data string
}

func (q *Queue) keys(queue string) redisQueueKeys {
	b := q.base + queue
	return redisQueueKeys{waiting: b + ":waiting", inflight: b + ":inflight", dead: b + ":dead", data: b + ":data"}
}

// Enqueue implements Queue.
func (q *Queue) Enqueue(ctx context.Context, msgs ...consolidate.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if q.err != nil {
		return q.err
	}
	if len(msgs) == 0 {
		return nil
	}
	return q.enqueues.do(ctx, msgs)
}

// runEnqueues adds the messages of several Enqueue calls in one script
// run. They all share its outcome.
func (q *Queue) runEnqueues(ctx context.Context, calls [][]consolidate.Message) []error {
	index := make(map[string]int)
	var keys []string
	var args []any
	for _, msgs := range calls {
		for _, m := range msgs {
			n, ok := index[m.Queue]
			if !ok {
				k := q.keys(m.Queue)
				keys = append(keys, k.waiting, k.data)
				n = len(keys) / 2
				index[m.Queue] = n
			}
			args = append(args, n, m.ID, m.Body, ceilMillis(m.Delay).Milliseconds())
		}
	}
	var err error
	if rerr := redisEnqueueScript.Run(ctx, q.client, keys, args...).Err(); rerr != nil {
		err = fmt.Errorf("consolidate: enqueue: %w", rerr)
	}
	errs := make([]error, len(calls))
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// Claim implements Queue.
func (q *Queue) Claim(ctx context.Context, queue string, max int, lease time.Duration) ([]consolidate.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 || lease <= 0 {
		return nil, fmt.Errorf("%w: claim needs max > 0 and lease > 0", consolidate.ErrInvalidMessage)
	}
	if q.err != nil {
		return nil, q.err
	}
	c := &redisClaim{max: max, lease: ceilMillis(lease).Milliseconds()}
	if err := q.claimBatcher(queue).do(ctx, c); err != nil {
		return nil, err
	}
	return c.out, nil
}

// claimBatcher returns the batcher of queue's Claims.
func (q *Queue) claimBatcher(queue string) *redisBatcher[*redisClaim] {
	q.claimsMu.Lock()
	defer q.claimsMu.Unlock()
	b, ok := q.claims[queue]
	if !ok {
		if q.claims == nil {
			q.claims = make(map[string]*redisBatcher[*redisClaim])
		}
		b = &redisBatcher[*redisClaim]{
			run: func(ctx context.Context, cs []*redisClaim) []error {
				return q.runClaims(ctx, queue, cs)
			},
			undo: q.release,
		}
		q.claims[queue] = b
	}
	return b
}

// release puts the messages of Claims whose callers stopped waiting back
// in the ready set at once, rather than leased to nobody until their
// leases expire. One that cannot be put back is left to its lease.
func (q *Queue) release(ctx context.Context, claims []*redisClaim) {
	for _, c := range claims {
		for _, d := range c.out {
			_ = q.Retry(ctx, d, 0)
		}
	}
}

// runClaims performs several Claims of queue in one script run, in order.
func (q *Queue) runClaims(ctx context.Context, queue string, claims []*redisClaim) []error {
	errs := make([]error, len(claims))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	token, err := token.New()
	if err != nil {
		return fail(err)
	}
	args := make([]any, 0, 2+2*len(claims))
	args = append(args, token, redisReapLimit)
	for _, c := range claims {
		args = append(args, c.max, c.lease)
	}
	k := q.keys(queue)
	res, err := redisClaimScript.Run(ctx, q.client, []string{k.waiting, k.inflight, k.data}, args...).Slice()
	if err != nil {
		return fail(fmt.Errorf("consolidate: claim %s: %w", queue, err))
	}
	malformed := fmt.Errorf("consolidate: claim %s: malformed reply of %d values", queue, len(res))
	i := 0
	for _, c := range claims {
		if i >= len(res) {
			return fail(malformed)
		}
		n, _ := res[i].(int64)
		i++
		if n < 0 || n > int64(c.max) || i+4*int(n) > len(res) {
			return fail(malformed)
		}
		for range n {
			id, _ := res[i].(string)
			body, _ := res[i+1].(string)
			tok, _ := res[i+2].(string)
			attempt, _ := res[i+3].(int64)
			c.out = append(c.out, consolidate.Delivery{Queue: queue, ID: id, Body: []byte(body), Token: tok, Attempt: int(attempt)})
			i += 4
		}
	}
	if i != len(res) {
		return fail(malformed)
	}
	return errs
}

// settle runs the token-checked Ack, Retry or Bury of d.
func (q *Queue) settle(ctx context.Context, op string, d consolidate.Delivery, arg any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if q.err != nil {
		return q.err
	}
	return q.settles.do(ctx, redisSettle{op: op, d: d, arg: arg})
}

// runSettles runs several Acks, Retries and Burials in one script run.
func (q *Queue) runSettles(ctx context.Context, ops []redisSettle) []error {
	index := make(map[string]int)
	var keys []string
	args := make([]any, 0, 5*len(ops))
	for _, s := range ops {
		n, ok := index[s.d.Queue]
		if !ok {
			k := q.keys(s.d.Queue)
			keys = append(keys, k.inflight, k.data, k.waiting, k.dead)
			n = len(keys) / 4
			index[s.d.Queue] = n
		}
		args = append(args, n, s.d.ID, s.d.Token, s.op, s.arg)
	}
	errs := make([]error, len(ops))
	res, err := redisSettleScript.Run(ctx, q.client, keys, args...).Int64Slice()
	if err == nil && len(res) != len(ops) {
		err = fmt.Errorf("malformed reply of %d values for %d operations", len(res), len(ops))
	}
	for i, s := range ops {
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("consolidate: %s %s/%s: %w", s.op, s.d.Queue, s.d.ID, err)
		case res[i] != 1:
			errs[i] = fmt.Errorf("%w: %s %s/%s", consolidate.ErrLeaseLost, s.op, s.d.Queue, s.d.ID)
		}
	}
	return errs
}

// Ack implements Queue.
func (q *Queue) Ack(ctx context.Context, d consolidate.Delivery) error {
	return q.settle(ctx, "ack", d, "")
}

// Retry implements Queue.
func (q *Queue) Retry(ctx context.Context, d consolidate.Delivery, delay time.Duration) error {
	if delay < 0 {
		return fmt.Errorf("%w: negative delay %v", consolidate.ErrInvalidMessage, delay)
	}
	return q.settle(ctx, "retry", d, ceilMillis(delay).Milliseconds())
}

// Bury implements Queue.
func (q *Queue) Bury(ctx context.Context, d consolidate.Delivery, reason string) error {
	return q.settle(ctx, "bury", d, reason)
}

// DeadLetters implements Queue.
func (q *Queue) DeadLetters(ctx context.Context, queue string, limit int) ([]consolidate.DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.err != nil {
		return nil, q.err
	}
	last := -1
	if limit > 0 {
		last = limit - 1
	}
	k := q.keys(queue)
	res, err := redisDeadLettersScript.Run(ctx, q.client, []string{k.dead, k.data}, last).Slice()
	if err != nil {
		return nil, fmt.Errorf("consolidate: dead letters of %s: %w", queue, err)
	}
	if len(res)%5 != 0 {
		return nil, fmt.Errorf("consolidate: dead letters of %s: malformed reply of %d values", queue, len(res))
	}
	var out []consolidate.DeadLetter
	for i := 0; i < len(res); i += 5 {
		id, _ := res[i].(string)
		body, _ := res[i+1].(string)
		reason, _ := res[i+2].(string)
		as, _ := res[i+3].(string)
		at, _ := res[i+4].(string)
		attempt, _ := strconv.Atoi(as)
		ms, _ := strconv.ParseFloat(at, 64)
		out = append(out, consolidate.DeadLetter{ID: id, Body: []byte(body), Reason: reason, Attempt: attempt, At: time.UnixMilli(int64(ms))})
	}
	return out, nil
}

// Requeue implements Queue.
func (q *Queue) Requeue(ctx context.Context, queue, id string) error {
	if q.err != nil {
		return q.err
	}
	k := q.keys(queue)
	n, err := redisRequeueScript.Run(ctx, q.client, []string{k.dead, k.waiting, k.data}, id).Int64()
	if err != nil {
		return fmt.Errorf("consolidate: requeue %s/%s: %w", queue, id, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: dead letter %q", consolidate.ErrNotFound, id)
	}
	return nil
}

// Delete implements Queue.
func (q *Queue) Delete(ctx context.Context, queue, id string) error {
	if q.err != nil {
		return q.err
	}
	k := q.keys(queue)
	if err := redisDeleteScript.Run(ctx, q.client, []string{k.waiting, k.inflight, k.dead, k.data}, id).Err(); err != nil {
		return fmt.Errorf("consolidate: delete %s/%s: %w", queue, id, err)
	}
	return nil
}

// Stats implements Queue.
func (q *Queue) Stats(ctx context.Context, queue string) (consolidate.QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return consolidate.QueueStats{}, err
	}
	if q.err != nil {
		return consolidate.QueueStats{}, q.err
	}
	k := q.keys(queue)
	n, err := redisStatsScript.Run(ctx, q.client, []string{k.waiting, k.inflight, k.dead}).Int64Slice()
	if err != nil {
		return consolidate.QueueStats{}, fmt.Errorf("consolidate: stats of %s: %w", queue, err)
	}
	if len(n) != 4 {
		return consolidate.QueueStats{}, fmt.Errorf("consolidate: stats of %s: malformed reply of %d values", queue, len(n))
	}
	return consolidate.QueueStats{Ready: int(n[0]), Delayed: int(n[1]), InFlight: int(n[2]), Dead: int(n[3])}, nil
}
