package consolidate

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// EventMessage is the JSON body of a published event. ID is stable across
// re-publishing, so consumers deduplicate on it.
type EventMessage struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	TransactionID int64  `json:"transaction_id"`
	AccountID     int64  `json:"account_id"`
	Status        Status `json:"status"`
	CreatedAt     string `json:"created_at"`
}

// relayBatch bounds the events published in one atomic enqueue.
const relayBatch = 100

// relayOnce publishes unsent outbox events to every event queue in one
// atomic enqueue, then marks them sent. A crash in between publishes them
// again; the message ID (the event ID) lets consumers drop the repeat.
func (s *Service) relayOnce(ctx context.Context) (int, error) {
	began := time.Now()
	evs, err := s.store.Events(ctx, relayBatch)
	if err == nil && len(evs) == 0 {
		return 0, nil
	}
	// Only a round with something to publish, or a failure, gets a span:
	// an idle relay would otherwise make one every RelayInterval.
	ctx, span := s.tr.Start(ctx, spanRelay, trace.WithTimestamp(began))
	n, err := s.relay(ctx, evs, err)
	s.relayDone(ctx, span, n, err)
	return n, err
}

// relay publishes evs, and the events after them, until the outbox is
// empty; err is that of the read of evs.
func (s *Service) relay(ctx context.Context, evs []Event, err error) (int, error) {
	total := 0
	for ; ; evs, err = s.store.Events(ctx, relayBatch) {
		if err != nil || len(evs) == 0 {
			return total, err
		}
		msgs := make([]Message, 0, len(evs)*len(s.cfg.EventQueues))
		ids := make([]int64, len(evs))
		for i, ev := range evs {
			ids[i] = ev.ID
			body, err := json.Marshal(EventMessage{
				ID: EventID(ev.ID), Type: ev.Type, TransactionID: ev.TransactionID,
				AccountID: ev.AccountID, Status: ev.Status, CreatedAt: ev.CreatedAt.UTC().Format(time.RFC3339Nano),
			})
			if err != nil {
				return total, err
			}
			for _, q := range s.cfg.EventQueues {
				msgs = append(msgs, Message{Queue: q, ID: EventID(ev.ID), Body: body})
			}
		}
		if err := s.cfg.Queue.Enqueue(ctx, msgs...); err != nil {
			return total, wrap("publish events", err)
		}
		if err := s.store.MarkSent(ctx, ids); err != nil {
			return total, err
		}
		total += len(evs)
		if len(evs) < relayBatch {
			return total, nil
		}
	}
}

// EventID is the stable, published ID of an outbox event.
func EventID(id int64) string { return "evt_" + strconv.FormatInt(id, 10) }
