package consolidate

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Queue is an at-least-once task queue with delays, leases and dead
// letters. The Service keeps its reconcile tasks in one and publishes
// lifecycle events to others. It holds what the Service needs; a queue an
// operator can inspect implements QueueInspector too.
//
// A claimed delivery is invisible to other claimers for its lease; Ack,
// Retry and Bury must present the delivery's token, so a worker whose lease
// expired (and whose task went to someone else) cannot touch it any more.
// Message IDs are unique within a queue: enqueueing an ID that is already
// waiting, in flight or dead is a no-op, which makes re-enqueueing after a
// crash safe. The Service validates its queue names once, in New, and
// builds valid IDs; a backend need not validate messages again.
type Queue interface {
	// Enqueue adds all messages, possibly to several queues, atomically:
	// all are added or none is.
	Enqueue(ctx context.Context, msgs ...Message) error
	// Claim leases up to max due messages of queue for lease. It returns
	// an empty slice, not an error, when none is due.
	Claim(ctx context.Context, queue string, max int, lease time.Duration) ([]Delivery, error)
	// Ack removes a claimed message for good.
	Ack(ctx context.Context, d Delivery) error
	// Retry returns a claimed message to the queue, due after delay.
	Retry(ctx context.Context, d Delivery, delay time.Duration) error
	// Bury moves a claimed message to the queue's dead letters, where it
	// stays until it is requeued or deleted.
	Bury(ctx context.Context, d Delivery, reason string) error
	// Delete removes a message in any state. Deleting a missing message is
	// not an error.
	Delete(ctx context.Context, queue, id string) error
}

// QueueInspector is the optional part of a Queue that lets an operator see
// and act on its dead letters. Find it with a type assertion:
//
//	if qi, ok := cfg.Queue.(consolidate.QueueInspector); ok { ... }
//
// MemoryQueue and the redis package's queue implement it.
type QueueInspector interface {
	// DeadLetters lists up to limit dead letters of queue, oldest first.
	DeadLetters(ctx context.Context, queue string, limit int) ([]DeadLetter, error)
	// Requeue moves a dead letter back to the queue, due now, with its
	// attempt count reset.
	Requeue(ctx context.Context, queue, id string) error
	// Stats counts the messages of queue by state.
	Stats(ctx context.Context, queue string) (QueueStats, error)
}

// Message is a message to enqueue.
type Message struct {
	Queue string
	ID    string // unique within Queue
	Body  []byte
	Delay time.Duration // due this long after Enqueue
}

// Delivery is a claimed message.
type Delivery struct {
	Queue   string
	ID      string
	Body    []byte
	Token   string // proves the claim; changes with every claim
	Attempt int    // 1 on the first delivery
}

// DeadLetter is a message that exhausted its retries.
type DeadLetter struct {
	ID      string
	Body    []byte
	Reason  string
	Attempt int
	At      time.Time
}

// QueueStats counts one queue's messages by state.
type QueueStats struct {
	Ready    int // due now
	Delayed  int // due later
	InFlight int // claimed, lease running
	Dead     int
}

// ErrInvalidMessage reports a message the queue cannot hold.
var ErrInvalidMessage = errors.New("consolidate: invalid queue message")

// Limits on queue names and IDs keep keys small and printable on every
// backend.
const (
	maxQueueNameLen = 128
	maxMessageIDLen = 256
)

// ValidateMessage checks m against the rules the Service follows: queue
// names and IDs of 1 to 128 and 256 printable ASCII characters without
// spaces or braces (braces would break Redis hash tags), and no negative
// delay. Code that enqueues its own messages directly can check them
// with it first.
func ValidateMessage(m Message) error {
	if err := validateName(m.Queue, maxQueueNameLen); err != nil {
		return fmt.Errorf("%w: queue: %v", ErrInvalidMessage, err)
	}
	if err := validateName(m.ID, maxMessageIDLen); err != nil {
		return fmt.Errorf("%w: id: %v", ErrInvalidMessage, err)
	}
	if m.Delay < 0 {
		return fmt.Errorf("%w: negative delay %v", ErrInvalidMessage, m.Delay)
	}
	return nil
}

// validateName accepts 1..max printable ASCII characters without spaces or
// braces (braces would break Redis hash tags).
func validateName(s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("length %d not in 1..%d", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '{' || c == '}' {
			return fmt.Errorf("character %q not allowed", c)
		}
	}
	return nil
}
