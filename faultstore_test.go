package consolidate_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// errSimStore is the error of an injected store fault.
var errSimStore = errors.New("sim: database connection lost")

// storeFaults are the probabilities of the store faults, per call.
type storeFaults struct {
	// From this chain call of a worker pass (the first look at statuses,
	// or the finalized nonce read) to the end of the pass, every read
	// fails, as when the read connections drop while the writer holds on.
	outageFrom string
	down       bool
	slow       string  // this read times out half the time, as a query with a bad plan would
	read       float64 // a read fails
	write      float64 // a write is refused before it reaches the database
	unknown    float64 // a write commits, and the caller gets an error anyway
}

// faultStore makes a Store's calls fail, as a database under load, a
// failover or a dropped connection would: a read errs, a write is refused,
// or a write commits and the reply is lost, so that the caller cannot tell
// whether it landed. Which calls fault is rolled by dice keyed by the
// method, its key (a transaction, account or page) and how often that key
// was called before, never by goroutine scheduling: a batched pass faults
// the same calls on every replay.
type faultStore struct {
	consolidate.Store
	dice  *simDice
	stats *simCounts
	mu    sync.Mutex
	rates storeFaults
}

func (f *faultStore) set(r storeFaults) {
	f.mu.Lock()
	f.rates = r
	f.mu.Unlock()
}

// outage takes the reads down at the chain call that begins the outage,
// or back up at the end of a pass (call "").
func (f *faultStore) outage(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case call == "":
		f.rates.down = false
	case call == f.rates.outageFrom:
		f.rates.down = true
	}
}

func (f *faultStore) current() storeFaults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rates
}

// read fails a read of method at key, or lets it through.
func (f *faultStore) read(method string, key int64) error {
	r := f.current()
	u := f.dice.roll("store "+method, uint64(key))
	switch {
	case r.down:
		f.stats.add("fault: store read outage mid-pass (" + method + ")")
	case method == r.slow && u < 0.5:
		f.stats.add("fault: store read timeout, one slow query (" + method + ")")
	case u < r.read:
		f.stats.add("fault: store read error (" + method + ")")
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", errSimStore, method)
}

// write runs commit, the write of method at key, unless it is refused; a
// write that commits may still report an error.
func (f *faultStore) write(method string, key int64, commit func() error) error {
	r, u := f.current(), f.dice.roll("store "+method, uint64(key))
	switch {
	case u < r.write:
		f.stats.add("fault: store write refused (" + method + ")")
		return fmt.Errorf("%w: %s refused", errSimStore, method)
	case u < r.write+r.unknown:
		if err := commit(); err != nil {
			return err
		}
		f.stats.add("fault: store commit outcome unknown (" + method + ")")
		return fmt.Errorf("%w: %s committed, reply lost", errSimStore, method)
	}
	return commit()
}

func (f *faultStore) CreateAccount(ctx context.Context, p consolidate.NewAccount) (a consolidate.Account, err error) {
	err = f.write("CreateAccount", 0, func() (err error) { a, err = f.Store.CreateAccount(ctx, p); return err })
	return a, err
}

func (f *faultStore) Account(ctx context.Context, id int64) (consolidate.Account, error) {
	if err := f.read("Account", id); err != nil {
		return consolidate.Account{}, err
	}
	return f.Store.Account(ctx, id)
}

func (f *faultStore) Credit(ctx context.Context, accountID int64, amount *big.Int, reference string) (a consolidate.Account, err error) {
	err = f.write("Credit", accountID, func() (err error) { a, err = f.Store.Credit(ctx, accountID, amount, reference); return err })
	return a, err
}

func (f *faultStore) Submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (tx consolidate.Transaction, created bool, err error) {
	err = f.write("Submit", p.AccountID, func() (err error) { tx, created, err = f.Store.Submit(ctx, p, sign); return err })
	if errors.Is(err, errSimStore) {
		return consolidate.Transaction{}, false, err
	}
	return tx, created, err
}

func (f *faultStore) AddAttempt(ctx context.Context, id int64, a consolidate.Attempt) error {
	return f.write("AddAttempt", id, func() error { return f.Store.AddAttempt(ctx, id, a) })
}

func (f *faultStore) Attempts(ctx context.Context, id int64) ([]consolidate.Attempt, error) {
	if err := f.read("Attempts", id); err != nil {
		return nil, err
	}
	return f.Store.Attempts(ctx, id)
}

func (f *faultStore) Transaction(ctx context.Context, id int64) (consolidate.Transaction, error) {
	if err := f.read("Transaction", id); err != nil {
		return consolidate.Transaction{}, err
	}
	return f.Store.Transaction(ctx, id)
}

func (f *faultStore) Transactions(ctx context.Context, accountID int64, before int64, limit int) ([]consolidate.Transaction, error) {
	if err := f.read("Transactions", accountID); err != nil {
		return nil, err
	}
	return f.Store.Transactions(ctx, accountID, before, limit)
}

func (f *faultStore) Settle(ctx context.Context, id int64, s consolidate.Settlement) (tx consolidate.Transaction, err error) {
	err = f.write("Settle", id, func() (err error) { tx, err = f.Store.Settle(ctx, id, s); return err })
	if errors.Is(err, errSimStore) {
		return consolidate.Transaction{}, err
	}
	return tx, err
}

func (f *faultStore) Reschedule(ctx context.Context, id int64, checks int, next time.Time) error {
	return f.write("Reschedule", id, func() error { return f.Store.Reschedule(ctx, id, checks, next) })
}

func (f *faultStore) Park(ctx context.Context, id int64, next time.Time) error {
	return f.write("Park", id, func() error { return f.Store.Park(ctx, id, next) })
}

func (f *faultStore) Due(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	if err := f.read("Due", after); err != nil {
		return nil, err
	}
	return f.Store.Due(ctx, t, after, limit)
}

func (f *faultStore) Parked(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	if err := f.read("Parked", after); err != nil {
		return nil, err
	}
	return f.Store.Parked(ctx, t, after, limit)
}

func (f *faultStore) SyncNonce(ctx context.Context, sender common.Address, next uint64) error {
	return f.write("SyncNonce", 0, func() error { return f.Store.SyncNonce(ctx, sender, next) })
}

func (f *faultStore) Events(ctx context.Context, limit int) ([]consolidate.Event, error) {
	if err := f.read("Events", 0); err != nil {
		return nil, err
	}
	return f.Store.Events(ctx, limit)
}

func (f *faultStore) MarkSent(ctx context.Context, ids []int64) error {
	return f.write("MarkSent", 0, func() error { return f.Store.MarkSent(ctx, ids) })
}

// simDice rolls a number in [0, 1) for a call from the seed, the kind of
// call, its key and how many times that kind and key were rolled before.
type simDice struct {
	seed uint64
	mu   sync.Mutex
	n    map[string]uint64
}

func newSimDice(seed uint64) *simDice { return &simDice{seed: seed, n: map[string]uint64{}} }

func (d *simDice) roll(kind string, key uint64) float64 {
	name := kind + "/" + strconv.FormatUint(key, 10)
	d.mu.Lock()
	n := d.n[name]
	d.n[name] = n + 1
	d.mu.Unlock()
	h := fnv.New64a()
	h.Write([]byte(name))
	x := splitmix(splitmix(d.seed^h.Sum64()) ^ n)
	return float64(x>>11) / (1 << 53)
}

// splitmix is the finaliser of SplitMix64: every bit of x moves every bit
// of the result.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// simCounts counts injected faults and outcomes by kind; the Service's
// goroutines add to it concurrently.
type simCounts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *simCounts) add(kind string) {
	c.mu.Lock()
	c.m[kind]++
	c.mu.Unlock()
}
