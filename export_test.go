package consolidate

import "context"

// Pass runs one worker pass, as Run's workers do: it claims up to
// Config.ReconcileBatch tasks, reconciles them together and acks, retries
// or buries each. It returns how many tasks it claimed.
func (s *Service) Pass(ctx context.Context) int { return s.pass(ctx) }
