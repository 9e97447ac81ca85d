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

// tokenBalance is a wallet's balance of one token as last read, less
// what this process has given it to send since.
type tokenBalance struct {
	read  *big.Int
	spent *big.Int
	at    time.Time
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
// ErrWalletUnderfunded when none does.
func (s *Service) pickFor(ctx context.Context, t Transfer) (*wallet, error) {
	if t.Token == (common.Address{}) {
		return s.pick(), nil
	}
	tk := s.tokens.by[t.Token]
	if tk == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownToken, t.Token)
	}
	for _, w := range s.ranked() {
		ok, err := tk.take(ctx, w, t.Amount)
		if err != nil {
			return nil, wrap("read the wallet's token balance", err)
		}
		if ok {
			return w, nil
		}
	}
	return nil, fmt.Errorf("%w: no wallet holds %s of token %s", ErrWalletUnderfunded, t.Amount, t.Token)
}

// take reports whether w holds amount of the token beyond what this
// process gave it to send since the balance was read, and if so counts
// amount as given. It reads the balance when the last read is older than
// tokenBalanceAge, or too low.
func (tk *tokenState) take(ctx context.Context, w *wallet, amount *big.Int) (bool, error) {
	tk.balMu.Lock()
	defer tk.balMu.Unlock()
	b := tk.balances[w.addr]
	fresh := b != nil && time.Since(b.at) < tokenBalanceAge
	if fresh && new(big.Int).Sub(b.read, b.spent).Cmp(amount) >= 0 {
		b.spent.Add(b.spent, amount)
		return true, nil
	}
	read, err := w.chain.(TokenReader).TokenBalance(ctx, tk.cfg.Address)
	if err != nil {
		return false, err
	}
	b = &tokenBalance{read: read, spent: new(big.Int), at: time.Now()}
	tk.balances[w.addr] = b
	if read.Cmp(amount) < 0 {
		return false, nil
	}
	b.spent.Add(b.spent, amount)
	return true, nil
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
