package consolidate

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Parked transfers (see "Reconciling" in the package docs) are checked
// every ParkedCheckInterval, and at once below a nonce that settles.

// parkWakeGap spaces the checks of parked transfers that settlements
// wake, so that a stream of settlements costs one check a second.
const parkWakeGap = time.Second

// parking is what a Service knows of its parked transfers.
type parking struct {
	wake chan struct{}
	// some is false only after a check found none parked and none has
	// been parked by this Service since; a settlement then wakes nothing.
	some atomic.Bool
}

func (p *parking) init() {
	p.wake = make(chan struct{}, 1)
	p.some.Store(true)
}

// park parks a transfer whose task spent its budget.
func (s *Service) park(ctx context.Context, id int64) error {
	s.parked.some.Store(true)
	return s.store.Park(ctx, id, time.Now().Add(s.cfg.ParkedCheckInterval))
}

// wakeParked asks watchParked to check at once the parked transfers of w
// below nonce, which a settlement has just proved consumed.
func (s *Service) wakeParked(w *wallet, nonce uint64) {
	if !s.parked.some.Load() {
		return
	}
	for {
		old := w.below.Load()
		if old >= nonce || w.below.CompareAndSwap(old, nonce) {
			break
		}
	}
	select {
	case s.parked.wake <- struct{}{}:
	default:
	}
}

// watchParked checks the parked transfers that are due, at start and
// every SweepInterval, and those below a settled nonce when woken, until
// ctx is done.
func (s *Service) watchParked(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	due, below := time.Now(), map[common.Address]uint64(nil)
	for {
		if _, err := s.recheckParked(ctx, due, below); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "consolidate: parked check failed", "err", err)
		}
		if below != nil {
			sleep(ctx, parkWakeGap)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			due, below = time.Now(), nil
		case <-s.parked.wake:
			due, below = time.Now().Add(100*365*24*time.Hour), s.settledBelow()
		}
	}
}

// settledBelow returns, and forgets, each wallet's highest nonce settled
// since the last call.
func (s *Service) settledBelow() map[common.Address]uint64 {
	below := make(map[common.Address]uint64, len(s.wallets))
	for _, w := range s.wallets {
		if n := w.below.Swap(0); n > 0 {
			below[w.addr] = n
		}
	}
	return below
}

// recheckParked checks the parked transfers due by due, only those of a
// wallet with a nonce below its entry in below unless below is nil, in batches of
// ReconcileBatch. A transfer found final has its dead letter deleted; one
// that is not final yet is parked again for ParkedCheckInterval. It
// returns how many it checked.
func (s *Service) recheckParked(ctx context.Context, due time.Time, below map[common.Address]uint64) (int, error) {
	total, after, found := 0, int64(0), false
	for {
		ids, err := s.store.Parked(ctx, due, after, s.cfg.ReconcileBatch)
		if err != nil || len(ids) == 0 {
			if err == nil && !found && below != nil {
				s.parked.some.Store(false)
			}
			return total, err
		}
		found, after = true, ids[len(ids)-1]
		if below != nil {
			if ids, err = s.ownBelow(ctx, ids, below); err != nil {
				return total, err
			}
		}
		cs := s.reconcile(ctx, ids)
		parallel(len(ids), func(i int) { s.parkedChecked(ctx, cs[i]) })
		total += len(ids)
	}
}

// ownBelow returns those of ids that are transfers of a wallet with a
// nonce below that wallet's entry in below.
func (s *Service) ownBelow(ctx context.Context, ids []int64, below map[common.Address]uint64) ([]int64, error) {
	var out []int64
	for _, id := range ids {
		tx, err := s.store.Transaction(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if tx.Nonce < below[tx.From] {
			out = append(out, id)
		}
	}
	return out, nil
}

// parkedChecked acts on the check of a parked transfer.
func (s *Service) parkedChecked(ctx context.Context, c check) {
	id := c.tx.ID
	if c.err == nil && c.tx.Status.Final() {
		s.log.InfoContext(ctx, "consolidate: parked transfer settled", "tx", id, "status", c.tx.Status)
		if err := s.cfg.Queue.Delete(ctx, s.cfg.QueueName, taskID(id)); err != nil {
			s.log.WarnContext(ctx, "consolidate: dead letter delete failed", "tx", id, "err", err)
		}
		return
	}
	if c.err != nil {
		s.log.WarnContext(ctx, "consolidate: parked check failed", "tx", id, "err", c.err)
	}
	if id == 0 {
		return
	}
	if err := s.park(ctx, id); err != nil && !errors.Is(err, ErrNotPending) {
		s.log.WarnContext(ctx, "consolidate: park failed", "tx", id, "err", err)
	}
}
