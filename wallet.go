package consolidate

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Several hot wallets. Each Chain given to New (its chain, then
// Config.Wallets) is one wallet: its own address, key or signer, and
// nonce sequence. Submit assigns each transfer to one wallet (pick), so a
// nonce stuck on one wallet holds back only that wallet's later
// transfers. A transfer stays with its wallet for life: its bumps and
// cancel are signed by it, and its nonce is checked against it.
//
// A wallet whose signer fails, that cannot pay for gas, or whose lowest
// open nonce has not been final for WalletStuckAfter is out of
// rotation: new transfers go to the others until it recovers (its signer
// signs again, a broadcast is accepted, its final nonce moves) or, for the
// first two, WalletPause has passed. Its own transfers keep reconciling
// all along. A wallet left out of the configuration is no wallet of the
// Service any more: its signed transfers are watched to the end (see
// Reconcile), but nothing new is signed for it.

// wallet is one hot wallet and what this Service knows of it.
type wallet struct {
	chain   Chain
	addr    common.Address
	offline bool // its Chain signs with no I/O

	nonceMu     sync.Mutex
	nonceSynced bool

	refillMu     sync.Mutex       // one refill at a time; held by it
	refillNext   time.Time        // no refill before then
	refillNonces map[int64]uint64 // nonces of open transfers, by ID, as the last refill read them

	below atomic.Uint64 // the highest of its nonces settled since parked transfers were last woken

	mu sync.Mutex
	// next is above the highest nonce this Service has given a transfer,
	// final the wallet's final nonce as last read; next−final is how
	// many of its transfers are open, as far as this process knows.
	next, final uint64
	moved       time.Time // when final last moved, or was first read
	outUntil    time.Time // out of rotation until then, for a fault
	stuck       bool      // out of rotation until final moves
	reason      string    // why it is out of rotation
}

// newWallets makes the pool from New's chain and Config.Wallets.
func newWallets(first Chain, more []Chain) ([]*wallet, error) {
	chains := append([]Chain{first}, more...)
	ws := make([]*wallet, 0, len(chains))
	seen := make(map[common.Address]bool, len(chains))
	for _, c := range chains {
		if c == nil {
			return nil, errors.New("consolidate: a wallet's Chain is nil")
		}
		w := &wallet{chain: c, addr: c.Sender()}
		if seen[w.addr] {
			return nil, errors.New("consolidate: two wallets sign for " + w.addr.Hex())
		}
		seen[w.addr] = true
		if o, ok := c.(OfflineSigning); ok {
			w.offline = o.SignsOffline()
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// walletOf returns the Service's wallet at addr, or nil if addr is none
// of its wallets.
func (s *Service) walletOf(addr common.Address) *wallet {
	for _, w := range s.wallets {
		if w.addr == addr {
			return w
		}
	}
	return nil
}

// pick chooses the wallet for a new transfer: of the wallets in
// rotation, the one with the fewest open transfers as far as this process
// knows, the earliest in the configuration on a tie. If every wallet is
// out of rotation, the one that returns soonest still
// gets it: a transfer reserved on a resting wallet waits for it, which is
// better than refusing it.
func (s *Service) pick() *wallet {
	if len(s.wallets) == 1 {
		return s.wallets[0]
	}
	now := time.Now()
	best := rankOf(s.wallets[0], now)
	for _, w := range s.wallets[1:] {
		if r := rankOf(w, now); r.before(best) < 0 {
			best = r
		}
	}
	return best.w
}

// ranked orders the wallets as pick prefers them, for a transfer that may
// not fit the first.
func (s *Service) ranked() []*wallet {
	if len(s.wallets) == 1 {
		return s.wallets
	}
	now := time.Now()
	rs := make([]rank, len(s.wallets))
	for i, w := range s.wallets {
		rs[i] = rankOf(w, now)
	}
	slices.SortStableFunc(rs, rank.before)
	out := make([]*wallet, len(rs))
	for i, r := range rs {
		out[i] = r.w
	}
	return out
}

// rank is where a wallet stands for a new transfer.
type rank struct {
	w     *wallet
	out   bool      // out of rotation
	open  uint64    // open transfers, as far as this process knows
	until time.Time // back in rotation then, if out for a fault
}

func rankOf(w *wallet, now time.Time) rank {
	w.mu.Lock()
	defer w.mu.Unlock()
	return rank{w: w, out: !w.inRotation(now), open: w.next - min(w.final, w.next), until: w.outUntil}
}

// before orders ranks: wallets in rotation by open transfers, fewest
// first, then the rest by how soon they return. Equal ranks compare 0,
// so the earlier wallet in the configuration wins a tie.
func (a rank) before(b rank) int {
	switch {
	case a.out != b.out:
		if a.out {
			return 1
		}
		return -1
	case !a.out:
		return cmp.Compare(a.open, b.open)
	}
	return a.until.Compare(b.until)
}

// inRotation reports whether new transfers may go to w. w.mu is held.
func (w *wallet) inRotation(now time.Time) bool {
	return !w.stuck && !now.Before(w.outUntil)
}

// handedOut records that a transfer of w has nonce n.
func (w *wallet) handedOut(n uint64) {
	w.mu.Lock()
	w.next = max(w.next, n+1)
	w.mu.Unlock()
}

// fault takes w out of rotation for pause, for reason.
func (s *Service) fault(ctx context.Context, w *wallet, reason string, err error) {
	if len(s.wallets) == 1 {
		return
	}
	w.mu.Lock()
	was := w.inRotation(time.Now())
	w.outUntil, w.reason = time.Now().Add(s.cfg.WalletPause), reason
	w.mu.Unlock()
	if was {
		s.log.WarnContext(ctx, "consolidate: wallet out of rotation", "wallet", w.addr, "reason", reason, "for", s.cfg.WalletPause, "err", err)
	}
}

// healthy ends a fault of w: it signed, or a node accepted its bytes.
func (s *Service) healthy(ctx context.Context, w *wallet) {
	if len(s.wallets) == 1 {
		return
	}
	w.mu.Lock()
	back := !w.outUntil.IsZero() && !w.stuck
	w.outUntil = time.Time{}
	w.mu.Unlock()
	if back {
		s.log.InfoContext(ctx, "consolidate: wallet back in rotation", "wallet", w.addr)
	}
}

// finalSeen records w's final nonce, read by a reconcile pass whose live
// checks of w have lowest the lowest open nonce among them (ok false if
// none). A wallet whose final nonce has not moved for StuckAfter while it
// has a transfer open at that nonce is stuck.
func (s *Service) finalSeen(ctx context.Context, w *wallet, final uint64, lowest uint64, ok bool) {
	now := time.Now()
	w.mu.Lock()
	if final != w.final || w.moved.IsZero() {
		w.final, w.moved = final, now
	}
	wasStuck := w.stuck
	stuck := len(s.wallets) > 1 && ok && lowest <= final && now.Sub(w.moved) >= s.cfg.WalletStuckAfter
	w.stuck = stuck
	if stuck {
		w.reason = "stuck"
	}
	since := w.moved
	w.mu.Unlock()
	switch {
	case stuck && !wasStuck:
		s.log.WarnContext(ctx, "consolidate: wallet out of rotation", "wallet", w.addr, "reason", "stuck", "nonce", final, "since", since)
	case wasStuck && !stuck:
		s.log.InfoContext(ctx, "consolidate: wallet back in rotation", "wallet", w.addr, "nonce", final)
	}
}

// settledNonce records that w's transfer at nonce n settled: n is final,
// so the wallet's final nonce is past it, and a wallet stuck at n moves on.
func (s *Service) settledNonce(ctx context.Context, w *wallet, n uint64) {
	w.mu.Lock()
	moved := n+1 > w.final
	if moved {
		w.final, w.moved = n+1, time.Now()
	}
	wasStuck := w.stuck && moved
	if wasStuck {
		w.stuck = false
	}
	w.mu.Unlock()
	if wasStuck {
		s.log.InfoContext(ctx, "consolidate: wallet back in rotation", "wallet", w.addr, "nonce", n+1)
	}
}

// rotation reports whether w is in rotation now, and why not.
func (w *wallet) rotation() (bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inRotation(time.Now()) {
		return true, ""
	}
	return false, w.reason
}
