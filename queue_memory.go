package consolidate

import (
	"container/heap"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-consolidate/consolidate/internal/token"
)

// MemoryQueue is an in-process Queue. Messages live in memory only: they are
// lost with the process, which the Service tolerates because every PENDING
// transaction is its own durable task record and the sweeper enqueues it
// again.
type MemoryQueue struct {
	mu     sync.Mutex
	queues map[string]*memQueue
}

var (
	_ Queue          = (*MemoryQueue)(nil)
	_ QueueInspector = (*MemoryQueue)(nil)
)

// NewMemoryQueue returns an empty in-process queue.
func NewMemoryQueue() *MemoryQueue {
	return &MemoryQueue{queues: make(map[string]*memQueue)}
}

type memState int

const (
	memWaiting memState = iota
	memInFlight
	memDead
)

type memItem struct {
	id      string
	body    []byte
	state   memState
	at      time.Time // due (waiting), lease expiry (in flight), death (dead)
	token   string
	attempt int
	reason  string
	index   int // position in the heap holding it; -1 when dead
}

// memQueue keeps waiting messages in a heap by due time and in-flight ones
// in a heap by lease expiry, so Claim costs O(k log n) however many
// messages wait.
type memQueue struct {
	items    map[string]*memItem
	waiting  itemHeap
	inFlight itemHeap
}

type itemHeap []*memItem

func (h itemHeap) Len() int           { return len(h) }
func (h itemHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *itemHeap) Push(x any) {
	it := x.(*memItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}

func (q *MemoryQueue) queue(name string) *memQueue {
	mq, ok := q.queues[name]
	if !ok {
		mq = &memQueue{items: make(map[string]*memItem)}
		q.queues[name] = mq
	}
	return mq
}

// Enqueue implements Queue.
func (q *MemoryQueue) Enqueue(ctx context.Context, msgs ...Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range msgs {
		mq := q.queue(m.Queue)
		if _, ok := mq.items[m.ID]; ok {
			continue
		}
		it := &memItem{id: m.ID, body: append([]byte(nil), m.Body...), at: now.Add(m.Delay)}
		mq.items[m.ID] = it
		heap.Push(&mq.waiting, it)
	}
	return nil
}

// Claim implements Queue.
func (q *MemoryQueue) Claim(ctx context.Context, queue string, max int, lease time.Duration) ([]Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 || lease <= 0 {
		return nil, fmt.Errorf("%w: claim needs max > 0 and lease > 0", ErrInvalidMessage)
	}
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	mq, ok := q.queues[queue]
	if !ok {
		return nil, nil
	}
	// Leases that ran out go back to waiting, due when they expired.
	for mq.inFlight.Len() > 0 && !now.Before(mq.inFlight[0].at) {
		it := heap.Pop(&mq.inFlight).(*memItem)
		it.state, it.token = memWaiting, ""
		heap.Push(&mq.waiting, it)
	}
	var out []Delivery
	for len(out) < max && mq.waiting.Len() > 0 && !now.Before(mq.waiting[0].at) {
		it := heap.Pop(&mq.waiting).(*memItem)
		tok, err := token.New()
		if err != nil {
			heap.Push(&mq.waiting, it)
			return out, err
		}
		it.state, it.token, it.at = memInFlight, tok, now.Add(lease)
		it.attempt++
		heap.Push(&mq.inFlight, it)
		out = append(out, Delivery{
			Queue: queue, ID: it.id, Body: append([]byte(nil), it.body...),
			Token: tok, Attempt: it.attempt,
		})
	}
	return out, nil
}

// claimed returns the in-flight item d refers to, if d's lease still holds.
func (q *MemoryQueue) claimed(d Delivery, now time.Time) (*memQueue, *memItem, error) {
	mq, ok := q.queues[d.Queue]
	if !ok {
		return nil, nil, ErrLeaseLost
	}
	it, ok := mq.items[d.ID]
	if !ok || it.state != memInFlight || it.token != d.Token || !now.Before(it.at) {
		return nil, nil, ErrLeaseLost
	}
	return mq, it, nil
}

// Ack implements Queue.
func (q *MemoryQueue) Ack(ctx context.Context, d Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	mq, it, err := q.claimed(d, time.Now())
	if err != nil {
		return err
	}
	heap.Remove(&mq.inFlight, it.index)
	delete(mq.items, it.id)
	return nil
}

// Retry implements Queue.
func (q *MemoryQueue) Retry(ctx context.Context, d Delivery, delay time.Duration) error {
	if delay < 0 {
		return fmt.Errorf("%w: negative delay %v", ErrInvalidMessage, delay)
	}
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	mq, it, err := q.claimed(d, now)
	if err != nil {
		return err
	}
	heap.Remove(&mq.inFlight, it.index)
	it.state, it.token, it.at = memWaiting, "", now.Add(delay)
	heap.Push(&mq.waiting, it)
	return nil
}

// Bury implements Queue.
func (q *MemoryQueue) Bury(ctx context.Context, d Delivery, reason string) error {
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	mq, it, err := q.claimed(d, now)
	if err != nil {
		return err
	}
	heap.Remove(&mq.inFlight, it.index)
	it.state, it.token, it.at, it.reason = memDead, "", now, reason
	return nil
}

// DeadLetters implements Queue.
func (q *MemoryQueue) DeadLetters(ctx context.Context, queue string, limit int) ([]DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	mq, ok := q.queues[queue]
	if !ok {
		return nil, nil
	}
	var out []DeadLetter
	for _, it := range mq.items {
		if it.state == memDead {
			out = append(out, DeadLetter{ID: it.id, Body: append([]byte(nil), it.body...), Reason: it.reason, Attempt: it.attempt, At: it.at})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].At.Equal(out[j].At) {
			return out[i].ID < out[j].ID
		}
		return out[i].At.Before(out[j].At)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Requeue implements Queue.
func (q *MemoryQueue) Requeue(ctx context.Context, queue, id string) error {
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	mq, ok := q.queues[queue]
	if !ok {
		return fmt.Errorf("%w: dead letter %q", ErrNotFound, id)
	}
	it, ok := mq.items[id]
	if !ok || it.state != memDead {
		return fmt.Errorf("%w: dead letter %q", ErrNotFound, id)
	}
	it.state, it.at, it.attempt, it.reason = memWaiting, now, 0, ""
	heap.Push(&mq.waiting, it)
	return nil
}

// Delete implements Queue.
func (q *MemoryQueue) Delete(ctx context.Context, queue, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	mq, ok := q.queues[queue]
	if !ok {
		return nil
	}
	it, ok := mq.items[id]
	if !ok {
		return nil
	}
	switch it.state {
	case memWaiting:
		heap.Remove(&mq.waiting, it.index)
	case memInFlight:
		heap.Remove(&mq.inFlight, it.index)
	}
	delete(mq.items, id)
	return nil
}

// Stats implements Queue.
func (q *MemoryQueue) Stats(ctx context.Context, queue string) (QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return QueueStats{}, err
	}
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	var s QueueStats
	mq, ok := q.queues[queue]
	if !ok {
		return s, nil
	}
	for _, it := range mq.items {
		switch {
		case it.state == memDead:
			s.Dead++
		case it.state == memInFlight && now.Before(it.at):
			s.InFlight++
		case now.Before(it.at) && it.state == memWaiting:
			s.Delayed++
		default:
			s.Ready++
		}
	}
	return s, nil
}
