package consolidate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Calls for one key while a read runs share it; forget makes the next call
// read again; a joiner whose context ends stops waiting.
func TestFlights(t *testing.T) {
	t.Parallel()
	var g flights
	var reads atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{})
	read := func() (Transaction, error) {
		if reads.Add(1) == 1 {
			close(started)
			<-release
		}
		return Transaction{ID: reads.Load()}, nil
	}
	var wg sync.WaitGroup
	got := make([]Transaction, 8)
	wg.Go(func() { got[0], _ = g.do(context.Background(), "k", read) })
	<-started
	var entered atomic.Int64
	for i := 1; i < len(got); i++ {
		wg.Go(func() {
			entered.Add(1)
			got[i], _ = g.do(context.Background(), "k", read)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := g.do(ctx, "k", read); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("joiner past its deadline: %v", err)
	}
	for entered.Load() < int64(len(got)-1) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // from entered to joined is a map lookup
	close(release)
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads for concurrent calls, want 1", n)
	}
	for i, tx := range got {
		if tx.ID != 1 {
			t.Fatalf("call %d got %+v, want the shared read's result", i, tx)
		}
	}

	// Forgotten while a read runs: the next call reads on its own.
	block := make(chan struct{})
	first := make(chan struct{})
	go g.do(context.Background(), "f", func() (Transaction, error) { close(first); <-block; return Transaction{}, nil })
	<-first
	g.forget("f")
	tx, err := g.do(context.Background(), "f", func() (Transaction, error) { return Transaction{ID: 9}, nil })
	close(block)
	if err != nil || tx.ID != 9 {
		t.Fatalf("call after forget: %+v, %v; want its own read", tx, err)
	}
}
