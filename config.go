package consolidate

import (
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Config tunes a Service. The zero value is valid: every field documents
// what it defaults to.
type Config struct {
	// Locker guards each account against concurrent submits.
	// Defaults to an in-process MemoryLocker.
	Locker Locker
	// LockTTL is how long an account lock lives if its holder dies.
	// Defaults to 30 s.
	LockTTL time.Duration
	// LockFailOpen lets Submit go on without the account lock when the lock
	// backend is unreachable. The store still guards balances and nonces,
	// so this trades the 409-on-concurrent-submit behaviour for
	// availability. Defaults to false: Submit fails with ErrLockUnavailable.
	LockFailOpen bool

	// Cache fronts Get. Defaults to none: Get reads the store. There is no
	// in-process default because processes sharing a store would each keep
	// a private copy that another process's settle never refreshes. Use
	// NewMemoryCache only when this Service is the one process on its
	// store, and a shared cache (redis.NewCache) for several.
	Cache Cache
	// CacheTTL is how long a cached transaction lives. Defaults to 60 s.
	CacheTTL time.Duration
	// NegativeCacheTTL is how long "no such transaction" is cached.
	// Defaults to 30 s.
	NegativeCacheTTL time.Duration
	// CacheTimeout bounds each cache call, so that a slow or unreachable
	// cache costs Get little before it falls back to the store.
	// Defaults to 100 ms.
	CacheTimeout time.Duration
	// CacheJitter spreads cache expiry by up to this fraction of the TTL
	// either way, so entries filled together do not expire together.
	// Defaults to 0.1; negative disables jitter.
	CacheJitter float64

	// Queue holds reconcile tasks (and published events).
	// Defaults to an in-process MemoryQueue.
	Queue Queue
	// QueueName is the queue of reconcile tasks. Defaults to "reconcile".
	QueueName string
	// Backoff schedules the checks of a transaction that is not final yet.
	// Defaults to the fields' defaults, 100 s doubling to 1600 s, which
	// suit a real chain. The first check runs right after Submit, before a
	// block can hold the transfer, so the next waits Base: on an
	// in-process chain (chaintest) or in tests, set Base and Max in
	// milliseconds, or each transfer takes 100 s to settle.
	Backoff Backoff
	// ParkedCheckInterval is how often a parked transfer, one whose task
	// spent the Backoff's checks and went to the dead letters, is checked
	// again. It stays PENDING with its funds held until it is final, and
	// is also checked at once when a later nonce of its wallet is settled
	// by this Service. Defaults to 1 h.
	ParkedCheckInterval time.Duration
	// StuckAfter is how long the newest signed attempt of a transfer may
	// wait unmined before a check re-signs it with bumped fees (same nonce,
	// tip and fee cap each at least 10 % higher, bounded by the chain's
	// maximum fee). Defaults to 3 min.
	StuckAfter time.Duration
	// VoidDelay is how long a check must have seen a transfer's nonce
	// consumed by another transaction, with none of its attempts known to
	// the node, before a later check voids it (FAILED, full refund). One
	// answer is not proof enough: behind a load balancer, one node may
	// report the nonce consumed while another has not yet indexed the block
	// in which the transfer itself landed, and voiding it then would pay
	// twice. Defaults to 1 min; with the default Backoff, the void comes at
	// the check after the first one that saw it.
	VoidDelay time.Duration
	// Workers is how many reconcile passes Run works on at once.
	// Defaults to 4.
	Workers int
	// ReconcileBatch is the most tasks one worker claims and reconciles
	// together: one read of the batch's transactions and attempts from a
	// store that is a BatchReader, one Chain.Statuses call for every
	// attempt of every task in the batch, at most one
	// Chain.FinalizedNonce call, and settlements
	// applied concurrently, so that a store with group commit writes them
	// in one commit. Each task is still acked, retried or dead-lettered on
	// its own; a chain error retries every task of the batch. 1 reconciles
	// one task at a time. Defaults to 64.
	ReconcileBatch int
	// Lease is how long a claimed task stays invisible to other workers.
	// A worker that dies has its task delivered again after it. Defaults
	// to 1 min.
	Lease time.Duration
	// PollInterval is how long an idle worker waits before asking the
	// queue again. Defaults to 100 ms.
	PollInterval time.Duration
	// TaskTimeout bounds one reconcile pass over a batch of tasks,
	// including on shutdown, where running passes are allowed to finish.
	// Defaults to 30 s.
	TaskTimeout time.Duration
	// SweepInterval is how often Run looks for PENDING transactions whose
	// check is overdue (their task was lost) and enqueues them again. Run
	// also sweeps once at start. Defaults to 1 min.
	SweepInterval time.Duration
	// SweepGrace is how overdue a check must be before the sweeper steps
	// in. Defaults to Lease + PollInterval.
	SweepGrace time.Duration

	// EventQueues are the queues every lifecycle event is published to, in
	// one atomic enqueue. Defaults to none: events stay in the store's
	// outbox.
	EventQueues []string
	// RelayInterval is how often Run publishes outbox events.
	// Defaults to 1 s.
	RelayInterval time.Duration

	// Wallets are more hot wallets besides New's chain: Chains on the same
	// network, each signing for its own address. Submit gives each
	// transfer to the wallet in rotation with the fewest open transfers;
	// a wallet whose signer fails, that cannot pay for gas, or that is
	// stuck leaves the rotation until it recovers (see "Several hot
	// wallets" in the package docs). Defaults to none: one wallet.
	Wallets []Chain
	// WalletPause is how long a wallet whose signer failed, or that could
	// not pay for gas, stays out of rotation unless it recovers sooner.
	// Defaults to 1 min.
	WalletPause time.Duration
	// WalletStuckAfter is how long a wallet's lowest open nonce may stay
	// unfinal before the wallet leaves the rotation, until that nonce is
	// final. Defaults to 10 min: longer than a real chain takes to
	// finalize a block.
	WalletStuckAfter time.Duration

	// SignTimeout bounds one signature by a Chain that signs with I/O (a
	// remote signer, a KMS). A Submit whose signature has not come by
	// then returns the transfer reserved, and reconciling signs it.
	// Defaults to 10 s.
	SignTimeout time.Duration

	// Fee is what the account is charged per transfer, on top of the
	// amount, whatever the chain takes. Defaults to 50 000 000 000 000 wei
	// (0.00005 ETH); a zero value (not nil) charges nothing. It applies to
	// ether accounts; a token's accounts pay Token.Fee.
	Fee *big.Int
	// Tokens are the ERC-20 tokens accounts may hold besides ether (see
	// "Tokens" in the package docs). Every wallet's Chain must implement
	// TokenReader when there are any. Defaults to none: ether only.
	Tokens []Token

	// Logger receives what the background work cannot return.
	// Defaults to slog.Default().
	Logger *slog.Logger
	// MeterProvider receives the Service's metrics (docs/metrics.md).
	// Defaults to the global provider (otel.GetMeterProvider()), which
	// records nothing unless the host installs one.
	MeterProvider metric.MeterProvider
	// TracerProvider receives the spans of Submit, reconcile passes and
	// event relay rounds. Defaults to the global provider
	// (otel.GetTracerProvider()), which records nothing unless the host
	// installs one.
	TracerProvider trace.TracerProvider
}

// Backoff is the schedule of reconcile checks: after the n-th check (from
// 0) that finds a transaction not final, the next comes
// min(Base·2^n, Max) later. After Checks checks the task goes to the dead
// letters and the transaction stays PENDING for an operator.
type Backoff struct {
	// Base is the first delay. Defaults to 100 s.
	Base time.Duration
	// Max caps the delay. Defaults to 1600 s.
	Max time.Duration
	// Checks is the check budget. Defaults to 32.
	Checks int
	// Jitter spreads each delay by up to this fraction either way.
	// Defaults to 0.
	Jitter float64
}

// DefaultFee is the fee charged per transfer when Config.Fee is nil.
var DefaultFee = big.NewInt(50_000_000_000_000)

// withDefaults returns a copy of c with every zero field set to its default.
func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.Locker == nil {
		out.Locker = NewMemoryLocker()
	}
	setDefault(&out.LockTTL, 30*time.Second)
	setDefault(&out.CacheTTL, 60*time.Second)
	setDefault(&out.NegativeCacheTTL, 30*time.Second)
	setDefault(&out.CacheTimeout, 100*time.Millisecond)
	if out.CacheJitter == 0 {
		out.CacheJitter = 0.1
	}
	if out.Queue == nil {
		out.Queue = NewMemoryQueue()
	}
	if out.QueueName == "" {
		out.QueueName = "reconcile"
	}
	setDefault(&out.Backoff.Base, 100*time.Second)
	setDefault(&out.Backoff.Max, 1600*time.Second)
	setDefault(&out.Backoff.Checks, 32)
	setDefault(&out.ParkedCheckInterval, time.Hour)
	setDefault(&out.StuckAfter, 3*time.Minute)
	setDefault(&out.VoidDelay, time.Minute)
	setDefault(&out.Workers, 4)
	setDefault(&out.ReconcileBatch, 64)
	setDefault(&out.Lease, time.Minute)
	setDefault(&out.PollInterval, 100*time.Millisecond)
	setDefault(&out.TaskTimeout, 30*time.Second)
	setDefault(&out.SweepInterval, time.Minute)
	setDefault(&out.SweepGrace, out.Lease+out.PollInterval)
	setDefault(&out.RelayInterval, time.Second)
	setDefault(&out.SignTimeout, 10*time.Second)
	setDefault(&out.WalletPause, time.Minute)
	setDefault(&out.WalletStuckAfter, 10*time.Minute)
	out.Wallets = append([]Chain(nil), out.Wallets...)
	if out.Fee == nil {
		out.Fee = DefaultFee
	}
	out.Fee = new(big.Int).Set(out.Fee)
	out.Tokens = append([]Token(nil), out.Tokens...)
	for i, t := range out.Tokens {
		if t.Fee == nil {
			out.Tokens[i].Fee = new(big.Int)
		} else {
			out.Tokens[i].Fee = new(big.Int).Set(t.Fee)
		}
	}
	out.EventQueues = append([]string(nil), out.EventQueues...)
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.MeterProvider == nil {
		out.MeterProvider = otel.GetMeterProvider()
	}
	if out.TracerProvider == nil {
		out.TracerProvider = otel.GetTracerProvider()
	}
	return out
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// validate reports settings that cannot work.
func (c *Config) validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"LockTTL": c.LockTTL, "CacheTTL": c.CacheTTL, "NegativeCacheTTL": c.NegativeCacheTTL, "CacheTimeout": c.CacheTimeout,
		"Backoff.Base": c.Backoff.Base, "Backoff.Max": c.Backoff.Max, "Lease": c.Lease,
		"PollInterval": c.PollInterval, "StuckAfter": c.StuckAfter, "VoidDelay": c.VoidDelay, "TaskTimeout": c.TaskTimeout,
		"SweepInterval": c.SweepInterval, "SweepGrace": c.SweepGrace, "RelayInterval": c.RelayInterval,
		"ParkedCheckInterval": c.ParkedCheckInterval, "SignTimeout": c.SignTimeout,
		"WalletPause": c.WalletPause, "WalletStuckAfter": c.WalletStuckAfter,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s is negative (%v)", name, d))
		}
	}
	if c.Backoff.Max < c.Backoff.Base {
		errs = append(errs, fmt.Errorf("Backoff.Max %v is below Backoff.Base %v", c.Backoff.Max, c.Backoff.Base))
	}
	if c.Backoff.Checks < 0 || c.Workers < 0 || c.ReconcileBatch < 0 {
		errs = append(errs, errors.New("Backoff.Checks, Workers and ReconcileBatch must not be negative"))
	}
	if c.CacheJitter >= 1 || c.Backoff.Jitter < 0 || c.Backoff.Jitter >= 1 {
		errs = append(errs, errors.New("CacheJitter and Backoff.Jitter must be below 1"))
	}
	if c.Fee.Sign() < 0 || c.Fee.Cmp(maxUint256) > 0 {
		errs = append(errs, fmt.Errorf("Fee %s is not in [0, 2^256)", c.Fee))
	}
	seen := map[common.Address]bool{}
	for _, t := range c.Tokens {
		switch {
		case t.Address == (common.Address{}):
			errs = append(errs, errors.New("Tokens: a token has the zero address"))
		case seen[t.Address]:
			errs = append(errs, fmt.Errorf("Tokens: %s is listed twice", t.Address))
		case t.Fee.Sign() < 0 || t.Fee.Cmp(maxUint256) > 0:
			errs = append(errs, fmt.Errorf("Tokens: the fee of %s, %s, is not in [0, 2^256)", t.Address, t.Fee))
		}
		seen[t.Address] = true
	}
	if err := validateName(c.QueueName, maxQueueNameLen); err != nil {
		errs = append(errs, fmt.Errorf("QueueName: %v", err))
	}
	for _, q := range c.EventQueues {
		if err := validateName(q, maxQueueNameLen); err != nil {
			errs = append(errs, fmt.Errorf("EventQueues %q: %v", q, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// Delay returns how long to wait after the n-th (from 0) check that found
// the transaction not final, before jitter.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Base
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}
