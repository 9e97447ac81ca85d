package consolidate

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Tokens. An account holds one asset for life: ether, or one of
// Config.Tokens. A token transfer is a call of the token's transfer(to,
// amount) signed by a hot wallet, which pays the gas in ether; the account
// pays the token's Fee in the token. It is SUCCESSFUL only on the evidence
// of its receipt (see delivered), and a wallet is given a token transfer
// only while it holds enough of the token.

// tokenBalanceAge is how long a wallet's token balance, as read from the
// chain, is trusted before Submit reads it again.
const tokenBalanceAge = time.Second

// maxAccountTokens bounds the cache of accounts' assets.
const maxAccountTokens = 1 << 16

// tokens is what the Service knows of Config.Tokens.
type tokens struct {
	by map[common.Address]*tokenState

	mu       sync.Mutex
	accounts map[int64]common.Address // each account's token, which never changes
}

// tokenState is one configured token.
type tokenState struct {
	cfg Token

	infoMu sync.Mutex
	info   Token // cfg with Symbol and Decimals read from the contract when cfg has none

	balMu    sync.Mutex
	balances map[common.Address]*tokenBalance // by wallet
}

// tokenBalance is a wallet's balance of one token as last read, and the
// transfers of it this process gave the wallet that the balance may not
// show yet.
type tokenBalance struct {
	read  *big.Int
	nonce uint64 // the wallet's nonce when read was read
	at    time.Time
	holds map[*tokenHold]bool
}

// tokenHold is a transfer given to a wallet: its nonce is known once the
// store has taken it.
type tokenHold struct {
	amount *big.Int
	nonce  uint64
	known  bool
}

// available is what the wallet holds beyond the transfers it was given
// that were not mined when the balance was read.
func (b *tokenBalance) available() *big.Int {
	out := new(big.Int).Set(b.read)
	for h := range b.holds {
		if !h.known || h.nonce >= b.nonce {
			out.Sub(out, h.amount)
		}
	}
	return out
}

func newTokens(cfg []Token) *tokens {
	t := &tokens{by: make(map[common.Address]*tokenState, len(cfg)), accounts: map[int64]common.Address{}}
	for _, c := range cfg {
		t.by[c.Address] = &tokenState{cfg: c, balances: map[common.Address]*tokenBalance{}}
	}
	return t
}

// checkTokenWallets reports a wallet that cannot read token balances
// when tokens are configured.
func checkTokenWallets(ws []*wallet, cfg []Token) error {
	if len(cfg) == 0 {
		return nil
	}
	for _, w := range ws {
		if _, ok := w.chain.(TokenReader); !ok {
			return fmt.Errorf("Tokens are configured, but the Chain of wallet %s does not implement TokenReader", w.addr)
		}
	}
	return nil
}

// fee is what a transfer in the asset costs its account.
func (s *Service) fee(asset common.Address) (*big.Int, error) {
	if asset == (common.Address{}) {
		return s.cfg.Fee, nil
	}
	t := s.tokens.by[asset]
	if t == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownToken, asset)
	}
	return t.cfg.Fee, nil
}

// assetOf returns the asset of an account. With no tokens configured
// every account this Service can spend from holds ether, and the store
// refuses a transfer from any other.
func (s *Service) assetOf(ctx context.Context, accountID int64) (common.Address, error) {
	if len(s.tokens.by) == 0 {
		return common.Address{}, nil
	}
	s.tokens.mu.Lock()
	asset, ok := s.tokens.accounts[accountID]
	s.tokens.mu.Unlock()
	if ok {
		return asset, nil
	}
	a, err := s.store.Account(ctx, accountID)
	if err != nil {
		return common.Address{}, err
	}
	s.tokens.mu.Lock()
	if len(s.tokens.accounts) >= maxAccountTokens {
		clear(s.tokens.accounts)
	}
	s.tokens.accounts[accountID] = a.Token
	s.tokens.mu.Unlock()
	return a.Token, nil
}

// pickFor chooses the wallet for transfer t: pick's choice for ether; for
// a token, the first wallet in pick's order that holds enough of it, or
// ErrWalletUnderfunded when none does. The returned release must be
// called with the stored transfer, or a zero one if none was stored.
func (s *Service) pickFor(ctx context.Context, t Transfer) (*wallet, func(Transaction, bool), error) {
	if t.Token == (common.Address{}) {
		return s.pick(), func(Transaction, bool) {}, nil
	}
	tk := s.tokens.by[t.Token]
	if tk == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownToken, t.Token)
	}
	for _, w := range s.ranked() {
		h, err := tk.take(ctx, w, t.Amount)
		if err != nil {
			return nil, nil, wrap("read the wallet's token balance", err)
		}
		if h != nil {
			return w, func(tx Transaction, created bool) { tk.placed(w, h, tx, created) }, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: no wallet holds %s of token %s", ErrWalletUnderfunded, t.Amount, t.Token)
}

// take holds amount of the token on w if w has it available, and returns
// the hold, or nil if w has too little. It reads the balance when the
// last read is older than tokenBalanceAge, or shows too little.
func (tk *tokenState) take(ctx context.Context, w *wallet, amount *big.Int) (*tokenHold, error) {
	tk.balMu.Lock()
	defer tk.balMu.Unlock()
	b := tk.balances[w.addr]
	fresh := b != nil && time.Since(b.at) < tokenBalanceAge
	if !fresh || b.available().Cmp(amount) < 0 {
		read, nonce, err := w.chain.(TokenReader).TokenBalance(ctx, tk.cfg.Address)
		if err != nil {
			return nil, err
		}
		if b == nil {
			b = &tokenBalance{holds: map[*tokenHold]bool{}}
			tk.balances[w.addr] = b
		}
		b.read, b.nonce, b.at = read, nonce, time.Now()
		for h := range b.holds {
			if h.known && h.nonce < nonce {
				delete(b.holds, h) // mined: in the balance now
			}
		}
		if b.available().Cmp(amount) < 0 {
			return nil, nil
		}
	}
	h := &tokenHold{amount: new(big.Int).Set(amount)}
	b.holds[h] = true
	return h, nil
}

// placed records where a hold ended: a stored transfer with its nonce, or
// nothing stored (refused, or a replay of an earlier one).
func (tk *tokenState) placed(w *wallet, h *tokenHold, tx Transaction, created bool) {
	tk.balMu.Lock()
	defer tk.balMu.Unlock()
	b := tk.balances[w.addr]
	if !created {
		delete(b.holds, h)
		return
	}
	h.nonce, h.known = tx.Nonce, true
}

// tokenBalances reads what w holds of each configured token, or nil if
// none is configured.
func (s *Service) tokenBalances(ctx context.Context, w *wallet) (map[common.Address]*big.Int, error) {
	if len(s.tokens.by) == 0 {
		return nil, nil
	}
	out := make(map[common.Address]*big.Int, len(s.tokens.by))
	for addr := range s.tokens.by {
		bal, _, err := w.chain.(TokenReader).TokenBalance(ctx, addr)
		if err != nil {
			return nil, wrap("wallet token balance", err)
		}
		out[addr] = bal
	}
	return out, nil
}

// Token returns a configured token with its symbol and decimals, read
// from the contract once when the configuration has no symbol. An
// address that is not configured is ErrUnknownToken.
func (s *Service) Token(ctx context.Context, address common.Address) (Token, error) {
	tk := s.tokens.by[address]
	if tk == nil {
		return Token{}, fmt.Errorf("%w: %s", ErrUnknownToken, address)
	}
	tk.infoMu.Lock()
	defer tk.infoMu.Unlock()
	if tk.info.Address != (common.Address{}) {
		return tk.info.clone(), nil
	}
	info := tk.cfg
	if info.Symbol == "" {
		symbol, decimals, err := s.chain.(TokenReader).TokenInfo(ctx, address)
		if err != nil {
			return Token{}, wrap("read the token's symbol and decimals", err)
		}
		info.Symbol, info.Decimals = symbol, decimals
	}
	tk.info = info
	return info.clone(), nil
}

func (t Token) clone() Token {
	t.Fee = new(big.Int).Set(t.Fee)
	return t
}

// CreateTokenAccount creates an empty account that holds the configured
// token at addr (ErrUnknownToken for any other), once per key if key is
// not empty, like CreateAccountWithKey.
func (s *Service) CreateTokenAccount(ctx context.Context, addr common.Address, key string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	if s.tokens.by[addr] == nil {
		return Account{}, fmt.Errorf("%w: %s", ErrUnknownToken, addr)
	}
	if key != "" {
		if err := checkReference("account key", key); err != nil {
			return Account{}, err
		}
	}
	return s.store.CreateAccount(ctx, NewAccount{Token: addr, Key: key})
}
