package consolidate_test

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// supply is what each test token mints to the sending wallet.
var supply = big.NewInt(1_000_000_000)

func tokenEnv(t *testing.T, kind chaintest.TokenKind, o *envOptions) (*env, common.Address) {
	t.Helper()
	if o == nil {
		o = &envOptions{}
	}
	o.tokens = []tokenSpec{{kind: kind, supply: supply}}
	e := newEnv(t, o)
	return e, e.tokens[0]
}

// recipientHolds checks what the recipient holds of token on chain.
func (e *env) recipientHolds(token, who common.Address, want *big.Int) {
	e.t.Helper()
	got, err := e.sim.TokenBalanceOf(e.t.Context(), token, who)
	if err != nil || got.Cmp(want) != 0 {
		e.t.Fatalf("%s holds %v of %s (%v), want %s", who, got, token, err, want)
	}
}

func TestTokenTransferSettles(t *testing.T) {
	t.Parallel()
	e, token := tokenEnv(t, chaintest.PlainToken, nil)
	credit := big.NewInt(1_000_000)
	acct := e.tokenFunded(token, credit)
	tx := e.submit(acct.ID, alice, big.NewInt(250_000))
	if tx.Token != token || tx.FeeTotal.Cmp(tokenFee) != 0 {
		t.Fatalf("submitted a transfer of %s with fee %s, want %s with %s", tx.Token, tx.FeeTotal, token, tokenFee)
	}
	e.balances(acct.ID, sub(credit, sum(big.NewInt(250_000), tokenFee)), credit)
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Token != token || got.FeeBlockchain == nil || got.FeeBlockchain.Sign() <= 0 {
		t.Fatalf("settled %+v", got)
	}
	e.wantTokenSent(acct.ID, token, credit, big.NewInt(250_000))
	// The transfer sent no ether: the recipient got tokens only.
	if bal, err := e.sim.Client().BalanceAt(t.Context(), alice, nil); err != nil || bal.Sign() != 0 {
		t.Fatalf("recipient received %v wei (%v)", bal, err)
	}
	e.invariants(acct.ID)
}

func TestTokenAndEtherAccountsSideBySide(t *testing.T) {
	t.Parallel()
	e, token := tokenEnv(t, chaintest.PlainToken, nil)
	ether := e.funded(wei(1e18))
	tok := e.tokenFunded(token, big.NewInt(1_000_000))
	a := e.submit(ether.ID, alice, wei(1e15))
	b := e.submit(tok.ID, alice, big.NewInt(1000))
	if a.Token != (common.Address{}) || a.FeeTotal.Cmp(fee) != 0 || b.Token != token || b.FeeTotal.Cmp(tokenFee) != 0 {
		t.Fatalf("ether transfer %s fee %s, token transfer %s fee %s", a.Token, a.FeeTotal, b.Token, b.FeeTotal)
	}
	if b.Nonce != a.Nonce+1 {
		t.Fatalf("nonces %d and %d: one wallet, one sequence", a.Nonce, b.Nonce)
	}
	for _, tx := range []consolidate.Transaction{a, b} {
		if got := e.mineUntilFinal(tx.ID); got.Status != consolidate.StatusSuccessful {
			t.Fatalf("transfer %d: %s", tx.ID, got.Status)
		}
	}
	e.recipientHolds(token, alice, big.NewInt(1000))
	if bal, err := e.sim.Client().BalanceAt(t.Context(), alice, nil); err != nil || bal.Cmp(wei(1e15)) != 0 {
		t.Fatalf("recipient holds %v wei (%v), want 1e15", bal, err)
	}
	e.invariants(ether.ID, tok.ID)
}

// A token that returns false instead of reverting leaves a receipt with
// status 1 and no Transfer event: the transfer failed, the amount goes
// back to the account, and the fee is charged as for a revert.
func TestTokenReturningFalseFails(t *testing.T) {
	t.Parallel()
	e, token := tokenEnv(t, chaintest.FalseToken, &envOptions{wrapChain: func(c consolidate.Chain) consolidate.Chain {
		// The wallet's balance as read is stale: it shows more than the
		// wallet will hold when the transfer runs.
		return tokenChain{Chain: c, TokenReader: staleBalance{c.(consolidate.TokenReader)}}
	}})
	credit := new(big.Int).Mul(supply, big.NewInt(4))
	acct := e.tokenFunded(token, credit)
	amount := new(big.Int).Mul(supply, big.NewInt(2)) // beyond what the wallet holds
	tx := e.submit(acct.ID, alice, amount)
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusFailed || got.Hash != tx.Hash {
		t.Fatalf("settled %s with %s, want FAILED with %s", got.Status, got.Hash, tx.Hash)
	}
	st, err := e.status(tx.Hash)
	if err != nil || !st.Success || len(st.Transfers) != 0 {
		t.Fatalf("receipt: %+v %v; want status 1 and no Transfer event", st, err)
	}
	left := sub(credit, tokenFee)
	e.balances(acct.ID, left, left)
	e.recipientHolds(token, alice, new(big.Int))
	e.invariants(acct.ID)
}

// staleBalance reports ten times the wallet's token balance.
type staleBalance struct{ consolidate.TokenReader }

func (s staleBalance) TokenBalance(ctx context.Context, token common.Address) (*big.Int, uint64, error) {
	b, n, err := s.TokenReader.TokenBalance(ctx, token)
	if err != nil {
		return nil, 0, err
	}
	return b.Mul(b, big.NewInt(10)), n, nil
}

// A token that keeps part of the amount delivers less than asked: the
// transfer failed, whatever its receipt's status.
func TestTokenTakingAFeeFails(t *testing.T) {
	t.Parallel()
	e, token := tokenEnv(t, chaintest.FeeToken, nil)
	credit := big.NewInt(1_000_000)
	acct := e.tokenFunded(token, credit)
	tx := e.submit(acct.ID, alice, big.NewInt(100_000))
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusFailed {
		t.Fatalf("settled %s, want FAILED", got.Status)
	}
	st, err := e.status(tx.Hash)
	if err != nil || !st.Success || len(st.Transfers) == 0 {
		t.Fatalf("receipt: %+v %v; want status 1 with Transfer events", st, err)
	}
	left := sub(credit, tokenFee)
	e.balances(acct.ID, left, left)
	e.recipientHolds(token, alice, big.NewInt(99_000))
	e.invariants(acct.ID)
}

// A transfer the wallets cannot cover is refused at Submit and stores
// nothing.
func TestTokenTransferBeyondTheWalletsIsRefused(t *testing.T) {
	t.Parallel()
	e, token := tokenEnv(t, chaintest.PlainToken, nil)
	credit := new(big.Int).Mul(supply, big.NewInt(3))
	acct := e.tokenFunded(token, credit)
	_, err := e.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: new(big.Int).Add(supply, big.NewInt(1))})
	if !errors.Is(err, consolidate.ErrWalletUnderfunded) {
		t.Fatalf("Submit beyond the wallet's tokens: %v, want ErrWalletUnderfunded", err)
	}
	e.balances(acct.ID, credit, credit)
	if txs, err := e.svc.Transactions(t.Context(), acct.ID, 0, 10); err != nil || len(txs) != 0 {
		t.Fatalf("transactions after the refusal: %v, %v", txs, err)
	}
	// Two transfers that each fit but not together: the second is refused
	// before it is stored, though the first is not mined yet.
	first := e.submit(acct.ID, alice, big.NewInt(600_000_000))
	if _, err := e.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: big.NewInt(600_000_000)}); !errors.Is(err, consolidate.ErrWalletUnderfunded) {
		t.Fatalf("second Submit: %v, want ErrWalletUnderfunded", err)
	}
	// Once the first is mined, the balance read shows it, and it is not
	// counted twice: what is left, 400 000 000, can be sent to the unit.
	e.mineUntilFinal(first.ID)
	second := e.submit(acct.ID, alice, big.NewInt(300_000_000))
	if _, err := e.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: big.NewInt(200_000_000)}); !errors.Is(err, consolidate.ErrWalletUnderfunded) {
		t.Fatalf("Submit beyond what is left: %v, want ErrWalletUnderfunded", err)
	}
	third := e.submit(acct.ID, alice, big.NewInt(100_000_000))
	for _, tx := range []consolidate.Transaction{second, third} {
		if got := e.mineUntilFinal(tx.ID); got.Status != consolidate.StatusSuccessful {
			t.Fatalf("transfer %d: %s", tx.ID, got.Status)
		}
	}
	e.recipientHolds(token, alice, supply)
	e.invariants(acct.ID)
}

// An account is spent from in its own asset, and only tokens the Service
// is configured with are accepted.
func TestTokenAccountsNeedAConfiguredToken(t *testing.T) {
	t.Parallel()
	e, token := tokenEnv(t, chaintest.PlainToken, nil)
	other := common.HexToAddress("0x00000000000000000000000000000000000b0b0b")
	if _, err := e.svc.CreateTokenAccount(t.Context(), other, ""); !errors.Is(err, consolidate.ErrUnknownToken) {
		t.Fatalf("CreateTokenAccount of an unconfigured token: %v", err)
	}
	if _, err := e.svc.CreateTokenAccount(t.Context(), token, "bad key"); !errors.Is(err, consolidate.ErrInvalidReference) {
		t.Fatalf("CreateTokenAccount with a bad key: %v", err)
	}
	a, err := e.svc.CreateTokenAccount(t.Context(), token, "acct-1")
	if err != nil || a.Token != token {
		t.Fatalf("CreateTokenAccount: %+v %v", a, err)
	}
	again, err := e.svc.CreateTokenAccount(t.Context(), token, "acct-1")
	if err != nil || again.ID != a.ID {
		t.Fatalf("the key again: %+v %v", again, err)
	}
	info, err := e.svc.Token(t.Context(), token)
	if err != nil || info.Symbol != "TST" || info.Decimals != 6 || info.Fee.Cmp(tokenFee) != 0 {
		t.Fatalf("Token: %+v %v; want TST, 6 decimals, read from the contract", info, err)
	}
	if _, err := e.svc.Token(t.Context(), other); !errors.Is(err, consolidate.ErrUnknownToken) {
		t.Fatalf("Token of an unconfigured address: %v", err)
	}
}

func TestReorgedTokenTransferSettlesInItsNewBlock(t *testing.T) {
	t.Parallel()
	e, token := tokenEnv(t, chaintest.PlainToken, &envOptions{confirmations: 3})
	credit := big.NewInt(1_000_000)
	acct := e.tokenFunded(token, credit)
	tx := e.submit(acct.ID, alice, big.NewInt(5000))
	first := e.sim.Commit()
	e.reconcile(tx.ID)
	e.reorgOut(first)
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.BlockHash == first {
		t.Fatalf("settled %s in block %s (first mined in %s)", got.Status, got.BlockHash, first)
	}
	e.wantTokenSent(acct.ID, token, credit, big.NewInt(5000))
}

// stuckTokenTransfer submits a transfer of 5000 of a plain token priced
// too low to be mined, from an account credited with 1 000 000.
func stuckTokenTransfer(t *testing.T, stuckAfter time.Duration) (*env, common.Address, consolidate.Account, consolidate.Transaction) {
	t.Helper()
	e, token := tokenEnv(t, chaintest.PlainToken, &envOptions{
		cfg:       consolidate.Config{StuckAfter: stuckAfter},
		wrapChain: func(c consolidate.Chain) consolidate.Chain { return &quoteChain{Chain: c, quote: stuckQuote} },
	})
	acct := e.tokenFunded(token, big.NewInt(1_000_000))
	return e, token, acct, e.submit(acct.ID, alice, big.NewInt(5000))
}

// wantTokenSent checks that a transfer of amount from an account credited
// with credit reached alice and cost the account amount plus its fee.
func (e *env) wantTokenSent(acct int64, token common.Address, credit, amount *big.Int) {
	e.t.Helper()
	left := sub(credit, sum(amount, tokenFee))
	e.balances(acct, left, left)
	e.recipientHolds(token, alice, amount)
	e.invariants(acct)
}

func TestStuckTokenTransferIsBumped(t *testing.T) {
	t.Parallel()
	e, token, acct, tx := stuckTokenTransfer(t, time.Millisecond)
	e.sim.Mine(2)
	time.Sleep(2 * time.Millisecond)
	e.reconcile(tx.ID)
	as := e.attempts(tx.ID)
	if len(as) != 2 || as[1].Cancel || as[1].Quote.GasLimit != as[0].Quote.GasLimit {
		t.Fatalf("attempts after a stuck check: %+v", as)
	}
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash == tx.Hash {
		t.Fatalf("settled %s with %s, want SUCCESSFUL with the bump", got.Status, got.Hash)
	}
	e.wantTokenSent(acct.ID, token, big.NewInt(1_000_000), big.NewInt(5000))
}

func TestCancelledTokenTransferRefundsInFull(t *testing.T) {
	t.Parallel()
	e, token, acct, tx := stuckTokenTransfer(t, time.Hour)
	credit := big.NewInt(1_000_000)
	e.sim.Commit()
	if _, err := e.svc.Cancel(t.Context(), tx.ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusFailed || got.Hash == tx.Hash {
		t.Fatalf("settled %s with %s, want FAILED by the cancel", got.Status, got.Hash)
	}
	e.balances(acct.ID, credit, credit)
	e.recipientHolds(token, alice, new(big.Int))
	e.invariants(acct.ID)
}

func TestDroppedTokenTransferIsSentAgain(t *testing.T) {
	t.Parallel()
	var flaky *flakyChain
	e, token := tokenEnv(t, chaintest.PlainToken, &envOptions{wrapChain: func(c consolidate.Chain) consolidate.Chain {
		flaky = &flakyChain{Chain: c}
		return flaky
	}})
	credit := big.NewInt(1_000_000)
	acct := e.tokenFunded(token, credit)
	flaky.drop.Store(1)
	tx := e.submit(acct.ID, alice, big.NewInt(5000)) // the node never gets it
	e.sim.Commit()
	if st, err := e.status(tx.Hash); err != nil || st.State != consolidate.TxUnknown {
		t.Fatalf("chain status %v, %v; want unknown to the node", st.State, err)
	}
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash != tx.Hash {
		t.Fatalf("settled %s with %s, want SUCCESSFUL with %s", got.Status, got.Hash, tx.Hash)
	}
	e.wantTokenSent(acct.ID, token, credit, big.NewInt(5000))
}

// A transfer the chain says would revert is refused before it is stored.
func TestTokenTransferThatWouldRevertIsRefused(t *testing.T) {
	t.Parallel()
	e, token := tokenEnv(t, chaintest.PlainToken, &envOptions{wrapChain: func(c consolidate.Chain) consolidate.Chain {
		return tokenChain{Chain: c, TokenReader: staleBalance{c.(consolidate.TokenReader)}}
	}})
	credit := new(big.Int).Mul(supply, big.NewInt(4))
	acct := e.tokenFunded(token, credit)
	_, err := e.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: new(big.Int).Mul(supply, big.NewInt(2))})
	if !errors.Is(err, consolidate.ErrWouldRevert) {
		t.Fatalf("Submit: %v, want ErrWouldRevert", err)
	}
	e.balances(acct.ID, credit, credit)
	if txs, err := e.svc.Transactions(t.Context(), acct.ID, 0, 10); err != nil || len(txs) != 0 {
		t.Fatalf("transactions after the refusal: %v, %v", txs, err)
	}
}

// Tokens need every wallet's Chain to read token balances: a Chain that
// cannot is refused at New, before anything runs.
func TestTokensNeedATokenReader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	plain := struct{ consolidate.Chain }{e.chain} // hides everything but Chain
	_, err := consolidate.New(e.store, plain, &consolidate.Config{Tokens: []consolidate.Token{{Address: simToken}}})
	if !errors.Is(err, consolidate.ErrInvalidConfig) {
		t.Fatalf("New with tokens and a Chain without TokenReader: %v, want ErrInvalidConfig", err)
	}
}
