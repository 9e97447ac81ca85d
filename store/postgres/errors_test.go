package postgres_test

import (
	"context"
	"testing"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/storetest"
	"github.com/jackc/pgx/v5"
)

// TestErrorText checks the refusals of this store alone, beyond those of
// the Store interface the conformance suite checks.
func TestErrorText(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := database(t, semantics)
	s := open(t, dsn, nil)
	acct := fund(t, s, 1, 3*hold)[0]
	closed := open(t, dsn, nil)
	closed.Close()
	storetest.CheckErrorText(t, []storetest.ErrorCase{
		{Name: "closed store", Call: func() error {
			_, err := closed.List(ctx, consolidate.Filter{Limit: 1})
			return err
		}, Want: consolidate.ErrClosed},
		{Name: "invalid config", Call: func() error {
			_, err := postgres.Open(ctx, dsn, &postgres.Options{MaxBatch: -1})
			return err
		}, Want: consolidate.ErrInvalidConfig},
		{Name: "outcome unknown", Call: func() error { return outcomeUnknown(t, dsn, acct) }, Want: postgres.ErrOutcomeUnknown},
	})
}

// outcomeUnknown returns the error of a Submit, on a Store of its own
// on dsn, whose connection is cut once its COMMIT is sent and whose
// context ends then, so it cannot ask whether the batch committed.
func outcomeUnknown(t *testing.T, dsn string, acct int64) error {
	s := open(t, dsn, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	postgres.SetBatchSentHook(s, func(c *pgx.Conn) {
		cancel()
		c.PgConn().Conn().Close()
	})
	_, _, err := s.Submit(ctx, transfer(acct, "cut"), sign)
	return err
}
