package consolidate

import (
	"context"
	"slices"
	"time"
)

// maxSuspects bounds the transfers remembered by voidsDue; past it, those
// seen longer ago than ten VoidDelays (whose checks have likely moved to
// another process) are forgotten.
const maxSuspects = 4096

// voidsDue returns those of the checks at idx, each a transfer whose nonce
// is consumed by another transaction with none of its attempts known, that
// were first seen so at least VoidDelay ago. The others are remembered
// from now, and stay PENDING until a later check.
func (s *Service) voidsDue(ctx context.Context, cs []check, idx []int) []int {
	if len(idx) == 0 {
		return nil
	}
	now := time.Now()
	s.voidMu.Lock()
	defer s.voidMu.Unlock()
	if s.suspects == nil {
		s.suspects = make(map[int64]time.Time)
	}
	var due []int
	for _, i := range idx {
		id := cs[i].tx.ID
		first, seen := s.suspects[id]
		switch {
		case !seen:
			if len(s.suspects) >= maxSuspects {
				for k, t := range s.suspects {
					if now.Sub(t) > 10*s.cfg.VoidDelay {
						delete(s.suspects, k)
					}
				}
			}
			s.suspects[id] = now
			s.log.InfoContext(ctx, "consolidate: void suspected", "tx", id, "nonce", cs[i].tx.Nonce, "void_after", s.cfg.VoidDelay)
		case now.Sub(first) >= s.cfg.VoidDelay:
			delete(s.suspects, id)
			due = append(due, i)
		}
	}
	return due
}

// clearSuspects forgets what voidsDue remembered of every check but those
// at keep: their transfers were found mined, open or final, or could not
// be checked, and a later finding starts its wait afresh.
func (s *Service) clearSuspects(cs []check, keep []int) {
	s.voidMu.Lock()
	defer s.voidMu.Unlock()
	if len(s.suspects) == 0 {
		return
	}
	for i := range cs {
		if !slices.Contains(keep, i) {
			delete(s.suspects, cs[i].tx.ID)
		}
	}
}
