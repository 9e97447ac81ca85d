package consolidate_test

import (
	"testing"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/consolidatetest"
)

func TestMemoryLocker(t *testing.T) {
	t.Parallel()
	consolidatetest.RunLocker(t, func(t *testing.T) consolidate.Locker { return consolidate.NewMemoryLocker() })
}

func TestMemoryCache(t *testing.T) {
	t.Parallel()
	consolidatetest.RunCache(t, func(t *testing.T) consolidate.Cache { return consolidate.NewMemoryCache(0) })
}

func TestMemoryQueue(t *testing.T) {
	t.Parallel()
	consolidatetest.RunQueue(t, func(t *testing.T) consolidate.Queue { return consolidate.NewMemoryQueue() })
}
