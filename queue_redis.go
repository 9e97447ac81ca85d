package consolidate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisQueueOptions configures a RedisQueue. The zero value is ready to
// use.
type RedisQueueOptions struct {
	// Prefix starts every key. It may not contain '{' or '}', which would
	// move the hash tag. Defaults to "consolidate:".
	Prefix string
	// Namespace is the hash tag that all queues of this RedisQueue share:
	// their keys are <Prefix>{<Namespace>}:q:<queue>:…, so on Redis Cluster
	// they live in one slot and an Enqueue into several queues is one
	// atomic script. The price is that one namespace's queues are served
	// by one cluster node; spread load with several RedisQueues in
	// different namespaces. It follows the rules of a queue name.
	// Defaults to "default".
	Namespace string
}

// RedisQueue is a Queue on Redis, Redis Cluster or Dragonfly (run with
// --cluster_mode=emulated --lock_on_hashtags, or plain). Every operation is
// one Lua script over keys that share the namespace's hash tag, so each is
// atomic, including an Enqueue that spans several queues. Times are the
// server's. Dead letters are kept until Requeue or Delete; nothing trims
// them. Claim does not block: poll it.
//
// Messages are as durable as the server's persistence makes them; the
// Service does not depend on it, since every PENDING transaction is its
// own record and the sweeper enqueues it again.
type RedisQueue struct {
	client redis.UniversalClient
	base   string // <prefix>{<namespace>}:q:
	err    error  // a configuration error, returned by every call
}

var _ Queue = (*RedisQueue)(nil)

// redisReapLimit bounds how many expired leases one Claim returns to
// waiting, so that a claim after a mass crash stays a short script; the
// rest follow on the next claims.
const redisReapLimit = 1000

// NewRedisQueue returns a Queue on client. opts may be nil. Invalid
// options are reported by every method of the returned queue.
func NewRedisQueue(client redis.UniversalClient, opts *RedisQueueOptions) *RedisQueue {
	var o RedisQueueOptions
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = defaultRedisPrefix
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	q := &RedisQueue{client: client, base: o.Prefix + "{" + o.Namespace + "}:q:"}
	switch {
	case client == nil:
		q.err = errNoRedisClient
	case strings.ContainsAny(o.Prefix, "{}"):
		q.err = fmt.Errorf("consolidate: redis queue prefix %q contains a brace", o.Prefix)
	default:
		if err := validateName(o.Namespace, maxQueueNameLen); err != nil {
			q.err = fmt.Errorf("consolidate: redis queue namespace %q: %v", o.Namespace, err)
		}
	}
	return q
}

// redisQueueKeys are the keys of one queue.
type redisQueueKeys struct {
	waiting, inflight, dead, data string
}

func (q *RedisQueue) keys(queue string) redisQueueKeys {
	b := q.base + queue
	return redisQueueKeys{waiting: b + ":waiting", inflight: b + ":inflight", dead: b + ":dead", data: b + ":data"}
}

// Enqueue implements Queue.
func (q *RedisQueue) Enqueue(ctx context.Context, msgs ...Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, m := range msgs {
		if err := ValidateMessage(m); err != nil {
			return err
		}
	}
	if q.err != nil {
		return q.err
	}
	if len(msgs) == 0 {
		return nil
	}
	index := make(map[string]int)
	var keys []string
	args := make([]any, 0, 4*len(msgs))
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
	if err := redisEnqueueScript.Run(ctx, q.client, keys, args...).Err(); err != nil {
		return fmt.Errorf("consolidate: enqueue: %w", err)
	}
	return nil
}

// Claim implements Queue.
func (q *RedisQueue) Claim(ctx context.Context, queue string, max int, lease time.Duration) ([]Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 || lease <= 0 {
		return nil, fmt.Errorf("%w: claim needs max > 0 and lease > 0", ErrInvalidMessage)
	}
	if q.err != nil {
		return nil, q.err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	k := q.keys(queue)
	res, err := redisClaimScript.Run(ctx, q.client, []string{k.waiting, k.inflight, k.data},
		max, ceilMillis(lease).Milliseconds(), token, redisReapLimit).Slice()
	if err != nil {
		return nil, fmt.Errorf("consolidate: claim %s: %w", queue, err)
	}
	if len(res)%4 != 0 {
		return nil, fmt.Errorf("consolidate: claim %s: malformed reply of %d values", queue, len(res))
	}
	var out []Delivery
	for i := 0; i < len(res); i += 4 {
		id, _ := res[i].(string)
		body, _ := res[i+1].(string)
		tok, _ := res[i+2].(string)
		attempt, _ := res[i+3].(int64)
		out = append(out, Delivery{Queue: queue, ID: id, Body: []byte(body), Token: tok, Attempt: int(attempt)})
	}
	return out, nil
}

// settle runs the token-checked Ack, Retry or Bury of d.
func (q *RedisQueue) settle(ctx context.Context, op string, d Delivery, arg any) error {
	if q.err != nil {
		return q.err
	}
	k := q.keys(d.Queue)
	n, err := redisSettleScript.Run(ctx, q.client, []string{k.inflight, k.data, k.waiting, k.dead},
		d.ID, d.Token, op, arg).Int64()
	if err != nil {
		return fmt.Errorf("consolidate: %s %s/%s: %w", op, d.Queue, d.ID, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: %s %s/%s", ErrLeaseLost, op, d.Queue, d.ID)
	}
	return nil
}

// Ack implements Queue.
func (q *RedisQueue) Ack(ctx context.Context, d Delivery) error {
	return q.settle(ctx, "ack", d, "")
}

// Retry implements Queue.
func (q *RedisQueue) Retry(ctx context.Context, d Delivery, delay time.Duration) error {
	if delay < 0 {
		return fmt.Errorf("%w: negative delay %v", ErrInvalidMessage, delay)
	}
	return q.settle(ctx, "retry", d, ceilMillis(delay).Milliseconds())
}

// Bury implements Queue.
func (q *RedisQueue) Bury(ctx context.Context, d Delivery, reason string) error {
	return q.settle(ctx, "bury", d, reason)
}

// DeadLetters implements Queue.
func (q *RedisQueue) DeadLetters(ctx context.Context, queue string, limit int) ([]DeadLetter, error) {
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
	var out []DeadLetter
	for i := 0; i < len(res); i += 5 {
		id, _ := res[i].(string)
		body, _ := res[i+1].(string)
		reason, _ := res[i+2].(string)
		as, _ := res[i+3].(string)
		at, _ := res[i+4].(string)
		attempt, _ := strconv.Atoi(as)
		ms, _ := strconv.ParseFloat(at, 64)
		out = append(out, DeadLetter{ID: id, Body: []byte(body), Reason: reason, Attempt: attempt, At: time.UnixMilli(int64(ms))})
	}
	return out, nil
}

// Requeue implements Queue.
func (q *RedisQueue) Requeue(ctx context.Context, queue, id string) error {
	if q.err != nil {
		return q.err
	}
	k := q.keys(queue)
	n, err := redisRequeueScript.Run(ctx, q.client, []string{k.dead, k.waiting, k.data}, id).Int64()
	if err != nil {
		return fmt.Errorf("consolidate: requeue %s/%s: %w", queue, id, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: dead letter %q", ErrNotFound, id)
	}
	return nil
}

// Delete implements Queue.
func (q *RedisQueue) Delete(ctx context.Context, queue, id string) error {
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
func (q *RedisQueue) Stats(ctx context.Context, queue string) (QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return QueueStats{}, err
	}
	if q.err != nil {
		return QueueStats{}, q.err
	}
	k := q.keys(queue)
	n, err := redisStatsScript.Run(ctx, q.client, []string{k.waiting, k.inflight, k.dead}).Int64Slice()
	if err != nil {
		return QueueStats{}, fmt.Errorf("consolidate: stats of %s: %w", queue, err)
	}
	if len(n) != 4 {
		return QueueStats{}, fmt.Errorf("consolidate: stats of %s: malformed reply of %d values", queue, len(n))
	}
	return QueueStats{Ready: int(n[0]), Delayed: int(n[1]), InFlight: int(n[2]), Dead: int(n[3])}, nil
}
