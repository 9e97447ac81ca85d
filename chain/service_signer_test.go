package chain_test

import (
	"errors"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// signerRig is a Service on the in-process chain whose wallet signs
// through a fakeSigner: a signer that does I/O, so Submit reserves, signs
// outside the store's write, then records and sends.
type signerRig struct {
	node   *chaintest.Chain
	chain  *chain.Chain
	signer *fakeSigner
	store  *sqlite.Store
	svc    *consolidate.Service
	acct   consolidate.Account
}

func newSignerRig(t *testing.T) *signerRig {
	t.Helper()
	node := chaintest.NewT(t, nil)
	local, err := chain.NewLocalSigner(node.Key())
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSigner{Signer: local}
	c, err := chain.NewWithSigner(t.Context(), node.Client(), f, &chain.Options{ChainID: big.NewInt(chaintest.ChainID), Confirmations: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.SignsOffline() {
		t.Fatal("a Chain over a fake remote signer reports signing offline")
	}
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := consolidate.New(store, c, &consolidate.Config{
		SignTimeout: 200 * time.Millisecond,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Backoff:     consolidate.Backoff{Base: time.Millisecond, Max: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := svc.CreateAccount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Credit(t.Context(), acct.ID, big.NewInt(1e18), "deposit"); err != nil {
		t.Fatal(err)
	}
	return &signerRig{node: node, chain: c, signer: f, store: store, svc: svc, acct: acct}
}

func (r *signerRig) submit(t *testing.T, to common.Address, wei int64) consolidate.Transaction {
	t.Helper()
	tx, err := r.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: r.acct.ID, To: to, Amount: big.NewInt(wei)})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return tx
}

// settle mines and reconciles tx until it is final.
func (r *signerRig) settle(t *testing.T, id int64) consolidate.Transaction {
	t.Helper()
	for range 20 {
		r.node.Commit()
		tx, err := r.svc.Reconcile(t.Context(), id)
		if err == nil && tx.Status.Final() {
			return tx
		}
	}
	t.Fatalf("transaction %d not final after 20 blocks", id)
	return consolidate.Transaction{}
}

// sentNonce is the wallet's next nonce counting the node's mempool: what
// reached the node.
func (r *signerRig) sentNonce(t *testing.T) uint64 {
	t.Helper()
	n, err := r.chain.Nonce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (r *signerRig) balanceOf(t *testing.T, a common.Address) *big.Int {
	t.Helper()
	b, err := r.node.Client().BalanceAt(t.Context(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantReserved(t *testing.T, s consolidate.Store, tx consolidate.Transaction) {
	t.Helper()
	if tx.Status != consolidate.StatusPending || tx.Hash != (common.Hash{}) || len(tx.Raw) != 0 {
		t.Fatalf("transaction %d: %s, hash %s; want PENDING, reserved without a signature", tx.ID, tx.Status, tx.Hash)
	}
	if as, err := s.Attempts(t.Context(), tx.ID); err != nil || len(as) != 0 {
		t.Fatalf("transaction %d has %d attempts (%v), want none", tx.ID, len(as), err)
	}
}

// A slow remote signer: Submit returns signed transfers, in nonce order,
// and they settle as with a local key.
func TestServiceRemoteSignerSettles(t *testing.T) {
	t.Parallel()
	r := newSignerRig(t)
	r.signer.delay = 5 * time.Millisecond
	to := randomAddress(t)
	var txs []consolidate.Transaction
	for i := range 3 {
		tx := r.submit(t, to, 1000+int64(i))
		if tx.Hash == (common.Hash{}) || tx.Nonce != uint64(i) {
			t.Fatalf("Submit %d: hash %s, nonce %d; want signed at nonce %d", i, tx.Hash, tx.Nonce, i)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		if got := r.settle(t, tx.ID); got.Status != consolidate.StatusSuccessful || got.Hash != tx.Hash {
			t.Fatalf("transaction %d: %s with hash %s, want SUCCESSFUL with %s", tx.ID, got.Status, got.Hash, tx.Hash)
		}
	}
	if b := r.balanceOf(t, to); b.Cmp(big.NewInt(3003)) != 0 {
		t.Fatalf("recipient holds %s wei, want 3003", b)
	}
}

// A signer that fails, or hangs past SignTimeout, leaves the transfer
// reserved (funds held, nonce taken, nothing sent); its reconcile signs
// it once the signer is back.
func TestServiceSignerOutage(t *testing.T) {
	t.Parallel()
	for name, breakSigner := range map[string]func(*fakeSigner){
		"fails": func(f *fakeSigner) { f.fail.Store(1) },
		"hangs": func(f *fakeSigner) { f.hang = true },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newSignerRig(t)
			breakSigner(r.signer)
			to := randomAddress(t)
			tx := r.submit(t, to, 777)
			wantReserved(t, r.store, tx)
			if n := r.sentNonce(t); n != 0 {
				t.Fatalf("the node has nonce %d, want 0: nothing may be sent unsigned", n)
			}
			a, _ := r.svc.Account(t.Context(), r.acct.ID)
			if held := new(big.Int).Sub(a.Current, a.Available); held.Sign() <= 0 {
				t.Fatalf("account holds nothing for the reserved transfer: %+v", a)
			}
			r.signer.hang = false
			got := r.settle(t, tx.ID)
			if got.Status != consolidate.StatusSuccessful || got.Hash == (common.Hash{}) {
				t.Fatalf("after the outage: %s, hash %s; want SUCCESSFUL", got.Status, got.Hash)
			}
			if b := r.balanceOf(t, to); b.Cmp(big.NewInt(777)) != 0 {
				t.Fatalf("recipient holds %s wei, want 777", b)
			}
		})
	}
}

// A signer that signs another recipient is refused: nothing is stored or
// sent, an event says so, and the transfer waits reserved until a signer
// that signs what it is asked does.
func TestServiceSignerLies(t *testing.T) {
	t.Parallel()
	r := newSignerRig(t)
	thief := randomAddress(t)
	r.signer.lie = func(d *types.DynamicFeeTx) { d.To = &thief }
	to := randomAddress(t)
	tx := r.submit(t, to, 555)
	wantReserved(t, r.store, tx)
	if _, err := r.svc.Reconcile(t.Context(), tx.ID); !errors.Is(err, consolidate.ErrSignerMismatch) {
		t.Fatalf("Reconcile with a lying signer: %v, want ErrSignerMismatch", err)
	}
	r.node.Commit()
	if n := r.sentNonce(t); n != 0 {
		t.Fatalf("the node has nonce %d, want 0", n)
	}
	if b := r.balanceOf(t, thief); b.Sign() != 0 {
		t.Fatalf("the tampered recipient got %s wei", b)
	}
	evs, err := r.store.Events(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	rejected := 0
	for _, e := range evs {
		if e.Type == consolidate.EventSignatureRejected && e.TransactionID == tx.ID {
			rejected++
		}
	}
	if rejected != 2 {
		t.Fatalf("%d %s events, want 2 (Submit and Reconcile)", rejected, consolidate.EventSignatureRejected)
	}
	got, err := r.svc.Get(t.Context(), tx.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantReserved(t, r.store, got)

	r.signer.lie = nil
	if got := r.settle(t, tx.ID); got.Status != consolidate.StatusSuccessful {
		t.Fatalf("with an honest signer: %s, want SUCCESSFUL", got.Status)
	}
	if b := r.balanceOf(t, to); b.Cmp(big.NewInt(555)) != 0 {
		t.Fatalf("recipient holds %s wei, want 555", b)
	}
}

// An operator's cancel of a transfer still reserved signs the cancel as
// its first attempt; once final, the funds come back in full.
func TestServiceCancelReserved(t *testing.T) {
	t.Parallel()
	r := newSignerRig(t)
	r.signer.fail.Store(1)
	tx := r.submit(t, randomAddress(t), 999)
	wantReserved(t, r.store, tx)
	before, _ := r.svc.Account(t.Context(), r.acct.ID)
	if _, err := r.svc.Cancel(t.Context(), tx.ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	got := r.settle(t, tx.ID)
	if got.Status != consolidate.StatusFailed {
		t.Fatalf("cancelled reservation: %s, want FAILED", got.Status)
	}
	after, _ := r.svc.Account(t.Context(), r.acct.ID)
	if after.Available.Cmp(before.Current) != 0 || after.Current.Cmp(before.Current) != 0 {
		t.Fatalf("after the cancel: %+v, want every hold given back (%s)", after, before.Current)
	}
}

// A wallet whose signer fails leaves the rotation: the next transfers go
// to the other wallet and settle, and the failed one's reserved transfer
// is signed once its signer is back, which brings the wallet back.
func TestSignerFaultLeavesRotation(t *testing.T) {
	t.Parallel()
	bKey := newTestKey(t)
	node := chaintest.NewT(t, &chaintest.Options{Fund: []common.Address{bKey.addr}})
	local, err := chain.NewLocalSigner(node.Key())
	if err != nil {
		t.Fatal(err)
	}
	flaky := &fakeSigner{Signer: local}
	flaky.fail.Store(1 << 30)
	opts := &chain.Options{ChainID: big.NewInt(chaintest.ChainID), Confirmations: 1}
	a, err := chain.NewWithSigner(t.Context(), node.Client(), flaky, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := chain.New(t.Context(), node.Client(), bKey.key, opts)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := consolidate.New(store, a, &consolidate.Config{
		Wallets: []consolidate.Chain{b},
		Backoff: consolidate.Backoff{Base: time.Millisecond, Max: time.Millisecond},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := svc.CreateAccount(t.Context())
	if err == nil {
		_, err = svc.Credit(t.Context(), acct.ID, big.NewInt(1e18), "deposit")
	}
	if err != nil {
		t.Fatal(err)
	}
	r := &signerRig{node: node, chain: a, signer: flaky, store: store, svc: svc, acct: acct}
	to := randomAddress(t)
	first := r.submit(t, to, 1)
	if first.From != a.Sender() {
		t.Fatalf("first transfer from %s, want wallet A", first.From)
	}
	wantReserved(t, store, first)
	rotation := func(addr common.Address) (bool, string) {
		ws, err := svc.Wallets(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.Sender == addr {
				return w.InRotation, w.OutOfRotation
			}
		}
		t.Fatalf("no wallet %s", addr)
		return false, ""
	}
	if in, why := rotation(a.Sender()); in || why != "signer" {
		t.Fatalf("wallet A: in rotation %v (%q), want out for its signer", in, why)
	}
	var txs []consolidate.Transaction
	for i := range 3 {
		tx := r.submit(t, to, int64(10+i))
		if tx.From != b.Sender() || tx.Hash == (common.Hash{}) {
			t.Fatalf("transfer %d from %s, hash %s; want signed by wallet B", i, tx.From, tx.Hash)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		if got := r.settle(t, tx.ID); got.Status != consolidate.StatusSuccessful {
			t.Fatalf("transfer %d: %s", tx.ID, got.Status)
		}
	}
	flaky.fail.Store(0)
	if got := r.settle(t, first.ID); got.Status != consolidate.StatusSuccessful {
		t.Fatalf("A's transfer after its signer recovered: %s", got.Status)
	}
	if in, why := rotation(a.Sender()); !in {
		t.Fatalf("wallet A still out of rotation (%q) after signing again", why)
	}
	if b := r.balanceOf(t, to); b.Cmp(big.NewInt(1+10+11+12)) != 0 {
		t.Fatalf("recipient holds %s wei, want 34", b)
	}
}
