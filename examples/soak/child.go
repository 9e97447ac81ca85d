package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/redis"
)

// tokenFee is what a transfer of the soak's token costs its account.
var tokenFee = big.NewInt(30_000_000_000_000)

// serviceConfig is what every process of the soak runs with: the defaults
// are for real networks, where checks minutes apart are right; here blocks
// come every 100 ms and processes die every second, so everything is
// scaled down to keep the soak short. The check budget is large so that
// nothing is dead-lettered: a transfer left PENDING at the end is a
// finding, not patience running out.
func serviceConfig(c config, cl *goredis.Client, log *slog.Logger) *consolidate.Config {
	return &consolidate.Config{
		Locker:        redis.NewLocker(cl, &redis.LockerOptions{Prefix: c.prefix}),
		Cache:         redis.NewCache(cl, &redis.CacheOptions{Prefix: c.prefix}),
		Queue:         redis.NewQueue(cl, &redis.QueueOptions{Prefix: c.prefix}),
		LockTTL:       2 * time.Second,
		Backoff:       consolidate.Backoff{Base: 200 * time.Millisecond, Max: 2 * time.Second, Checks: 100_000, Jitter: 0.2},
		StuckAfter:    c.stuckAfter,
		Workers:       c.threads,
		Lease:         2 * time.Second,
		PollInterval:  50 * time.Millisecond,
		TaskTimeout:   10 * time.Second,
		SweepInterval: time.Second,
		Logger:        log,
		SignTimeout:   200 * time.Millisecond,
	}
}

// dialChain connects to the soak's node with the wallet's signer.
func dialChain(ctx context.Context, c config, key *ecdsa.PrivateKey) (*chain.Chain, error) {
	opts := &chain.Options{Confirmations: c.confirmations}
	if c.signer == "local" {
		return chain.Dial(ctx, c.rpc, key, opts)
	}
	signer, err := newFlakySigner(key)
	if err != nil {
		return nil, err
	}
	return chain.DialWithSigner(ctx, c.rpc, signer, opts)
}

// walletKeys parses keyEnv's value: one hex private key per wallet.
func walletKeys(v string) ([]*ecdsa.PrivateKey, error) {
	var keys []*ecdsa.PrivateKey
	for _, h := range strings.Split(v, ",") {
		key, err := crypto.HexToECDSA(h)
		if err != nil {
			return nil, fmt.Errorf("%s is not a comma-separated list of hex private keys", keyEnv)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// runChild is a submitter or a worker until ctx is done or it is killed.
func runChild(ctx context.Context, c config) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	keys, err := walletKeys(os.Getenv(keyEnv))
	if err != nil {
		return err
	}
	opt, err := goredis.ParseURL(c.redisURL)
	if err != nil {
		return errors.New("-redis: want redis://host:port")
	}
	cl := goredis.NewClient(opt)
	defer cl.Close()
	store, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	chains := make([]consolidate.Chain, len(keys))
	for i, key := range keys {
		ch, err := dialChain(ctx, c, key)
		if err != nil {
			return err
		}
		defer ch.Close()
		chains[i] = ch
	}
	cfg := serviceConfig(c, cl, log)
	cfg.Wallets = chains[1:]
	if !common.IsHexAddress(c.token) {
		return fmt.Errorf("-token %q is not an address", c.token)
	}
	cfg.Tokens = []consolidate.Token{{Address: common.HexToAddress(c.token), Fee: tokenFee}}
	svc, err := consolidate.New(store, chains[0], cfg)
	if err != nil {
		return err
	}
	if err := markReady(c); err != nil {
		return err
	}
	if c.role == "worker" {
		return svc.Run(ctx)
	}
	reverter := common.HexToAddress(c.reverter)
	if !common.IsHexAddress(c.reverter) {
		return fmt.Errorf("-reverter %q is not an address", c.reverter)
	}
	return submit(ctx, c, svc, reverter)
}

// recipients are the plain addresses transfers go to.
var recipients = func() []common.Address {
	out := make([]common.Address, 8)
	for i := range out {
		out[i] = common.BigToAddress(big.NewInt(int64(0xC0FFEE00 + i)))
	}
	return out
}()

// maxAmount bounds a transfer (about twenty times the fee) and maxTopUp a
// deposit. Top-ups outpace spending on the accounts they reach.
const (
	maxAmount = 1_000_000_000_000_000
	maxTopUp  = 20_000_000_000_000_000
)

// topUpTarget picks the account a top-up goes to, among the even IDs of
// 1 to accounts. The odd ones only spend their first deposit: they run dry
// and are refused for insufficient funds while the rest keep spending.
func topUpTarget(rng *rand.Rand, accounts int) int64 {
	return int64(2 * (1 + rng.IntN(accounts/2)))
}

// markReady leaves the file the controller counts as this child slot having
// started: its store, chain and Service are up.
func markReady(c config) error {
	f, err := os.Create(readyPath(c.logDir, c.role, c.index))
	if err != nil {
		return err
	}
	return f.Close()
}

func readyPath(dir, role string, index int) string {
	return filepath.Join(dir, "ready-"+role+"-"+strconv.Itoa(index))
}

// submit runs c.threads submit loops until ctx is done. Each loop writes
// its accepted transfers to its own file in c.logDir; a new process (a
// restart) writes new files, so a line cut short by a kill is always the
// last of its file.
func submit(ctx context.Context, c config, svc *consolidate.Service, reverter common.Address) error {
	run := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid())
	var wg sync.WaitGroup
	errs := make([]error, c.threads)
	for g := range c.threads {
		name := fmt.Sprintf("accepted-s%d-%s-%d.log", c.index, run, g)
		f, err := os.OpenFile(filepath.Join(c.logDir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		l := &loop{
			svc: svc, log: f, reverter: reverter, accounts: c.accounts,
			prefix: fmt.Sprintf("s%d.%s.%d.", c.index, run, g),
			rng:    rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid()*64+g))),
		}
		wg.Go(func() { errs[g] = l.run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loop is one submit loop of a submitter.
type loop struct {
	svc      *consolidate.Service
	log      *os.File
	reverter common.Address
	accounts int
	prefix   string // of idempotency keys and credit references, unique per loop
	rng      *rand.Rand
	seq      int
}

func (l *loop) run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := l.step(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// step does one random operation. Only a failure to record an accepted
// transfer is fatal: the audit could not trust the log any more.
func (l *loop) step(ctx context.Context) error {
	l.seq++
	ref := l.prefix + strconv.Itoa(l.seq)
	account := int64(1 + l.rng.IntN(l.accounts))
	if l.rng.IntN(100) < 3 {
		account = topUpTarget(l.rng, l.accounts)
		top := new(big.Int).SetUint64(1 + l.rng.Uint64N(maxTopUp))
		if _, err := l.svc.Credit(ctx, account, top, ref); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "credit %d: %v\n", account, err)
		}
		return nil
	}
	req := consolidate.SubmitRequest{
		AccountID: account,
		To:        recipients[l.rng.IntN(len(recipients))],
		Amount:    new(big.Int).SetUint64(1 + l.rng.Uint64N(maxAmount)),
	}
	if l.rng.IntN(10) == 0 {
		req.To = l.reverter
	}
	if l.rng.IntN(2) == 0 {
		req.IdempotencyKey = ref
	}
	tx, err := l.svc.Submit(ctx, req)
	switch {
	case err == nil:
	case errors.Is(err, consolidate.ErrAccountLocked):
		return l.note("- locked\n")
	case errors.Is(err, consolidate.ErrInsufficientFunds):
		return l.note("- insufficient\n")
	default:
		if ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "submit: %v\n", err)
			sleepCtx(ctx, 50*time.Millisecond)
		}
		return nil
	}
	if err := l.record(tx, req, ""); err != nil {
		return err
	}
	if req.IdempotencyKey != "" && l.rng.IntN(5) == 0 {
		// A client that lost the answer repeats the request: it must get
		// the same transfer back, never a second one.
		again, err := l.svc.Submit(ctx, req)
		if err == nil {
			if again.ID != tx.ID {
				return l.record(again, req, "replayed-as-new")
			}
			if err := l.note("= " + strconv.FormatInt(tx.ID, 10) + "\n"); err != nil {
				return err
			}
		}
	}
	if l.rng.IntN(4) == 0 {
		// Reads go through the Redis cache; they must never see a
		// transfer go back to PENDING or change its outcome.
		if got, err := l.svc.Get(ctx, tx.ID); err == nil && got.ID != tx.ID {
			return fmt.Errorf("Get(%d) returned transfer %d", tx.ID, got.ID)
		}
	}
	return nil
}

// note appends a line the audit only counts. It is not synced: a lost
// count costs nothing.
func (l *loop) note(line string) error {
	_, err := l.log.WriteString(line)
	return err
}

// record appends an accepted transfer to the loop's log and syncs it, so
// that the line is there once the transfer counts as accepted. note marks
// lines the audit must count as violations.
func (l *loop) record(tx consolidate.Transaction, req consolidate.SubmitRequest, note string) error {
	line := fmt.Sprintf("%d %d %s %s", tx.ID, req.AccountID, req.To.Hex(), req.Amount)
	if note != "" {
		line += " " + note
	}
	line += "\n"
	if _, err := l.log.WriteString(line); err != nil {
		return err
	}
	return l.log.Sync()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
