package consolidate

import (
	"context"
	"sync"
	"time"
)

// waitPoll is how often Wait reads a transaction it is waiting for, to see
// settlements made by other processes.
const waitPoll = time.Second

// waiters wakes the Waits of a transaction when this process settles it.
type waiters struct {
	mu sync.Mutex
	m  map[int64][]chan struct{}
}

func (w *waiters) add(id int64) chan struct{} {
	c := make(chan struct{})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[int64][]chan struct{})
	}
	w.m[id] = append(w.m[id], c)
	return c
}

func (w *waiters) remove(id int64, c chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs := w.m[id]
	for i := range cs {
		if cs[i] == c {
			cs = append(cs[:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(w.m, id)
	} else {
		w.m[id] = cs
	}
}

func (w *waiters) wake(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.m[id] {
		close(c)
	}
	delete(w.m, id)
}

// Wait returns the transaction once it is final (SUCCESSFUL or FAILED), or
// ctx's error when ctx ends first. A settlement by this Service's own
// workers wakes it at once; one made by another process is seen within a
// second. Wait does not reconcile anything itself: some process must be
// running Run.
func (s *Service) Wait(ctx context.Context, id int64) (Transaction, error) {
	for {
		woken := s.waits.add(id)
		tx, err := s.Get(ctx, id)
		if err != nil || tx.Status.Final() {
			s.waits.remove(id, woken)
			return tx, err
		}
		t := time.NewTimer(waitPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			s.waits.remove(id, woken)
			return tx, ctx.Err()
		case <-woken:
		case <-t.C:
			s.waits.remove(id, woken)
		}
		t.Stop()
	}
}
