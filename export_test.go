package consolidate

import (
	"context"
	"time"
)

// Pass runs one worker pass, as Run's workers do: it claims up to
// Config.ReconcileBatch tasks, reconciles them together and acks, retries
// or buries each. It returns how many tasks it claimed.
func (s *Service) Pass(ctx context.Context) int { return s.pass(ctx) }

// Relay publishes unsent outbox events once, as Run's relay does every
// Config.RelayInterval. It returns how many it published.
func (s *Service) Relay(ctx context.Context) (int, error) { return s.relayOnce(ctx) }

// CheckParked runs one round of Run's watch over parked transfers: with
// woken, the check of those below a settled nonce if a settlement has woken
// it since the last round (else nothing), otherwise the periodic check of
// those due. It returns how many it checked.
func (s *Service) CheckParked(ctx context.Context, woken bool) (int, error) {
	if !woken {
		return s.recheckParked(ctx, time.Now(), nil)
	}
	select {
	case <-s.parked.wake:
		return s.recheckParked(ctx, time.Now().Add(100*365*24*time.Hour), s.settledBelow())
	default:
		return 0, nil
	}
}
