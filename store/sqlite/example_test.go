package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

func Example() {
	ctx := context.Background()
	// A file path in production; Memory keeps the example self-contained.
	s, err := sqlite.Open(sqlite.Memory, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	a, err := s.CreateAccount(ctx, consolidate.NewAccount{})
	if err != nil {
		log.Fatal(err)
	}
	oneEther := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	if _, err := s.Credit(ctx, a.ID, new(big.Int).Mul(big.NewInt(20), oneEther), "deposit-1"); err != nil {
		log.Fatal(err)
	}

	// The store allocates the nonce and hands it to the signer; a real
	// signer is consolidate.Chain.Sign.
	sign := func(nonce uint64) (consolidate.SignedTx, error) {
		raw := fmt.Appendf(nil, "signed transfer, nonce %d", nonce)
		return consolidate.SignedTx{Hash: sha256.Sum256(raw), Raw: raw}, nil
	}
	tx, _, err := s.Submit(ctx, consolidate.SubmitParams{
		AccountID: a.ID,
		From:      common.HexToAddress("0x1111111111111111111111111111111111111111"),
		To:        common.HexToAddress("0x2222222222222222222222222222222222222222"),
		Amount:    new(big.Int).Mul(big.NewInt(15), oneEther),
		FeeTotal:  big.NewInt(50_000_000_000_000),
	}, sign)
	if err != nil {
		log.Fatal(err)
	}
	a, _ = s.Account(ctx, a.ID)
	fmt.Println(tx.Status, "nonce", tx.Nonce)
	fmt.Println("available", a.Available, "current", a.Current)

	tx, err = s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: consolidate.OutcomeSuccess, FeeBlockchain: big.NewInt(21_000_000_000_000)})
	if err != nil {
		log.Fatal(err)
	}
	a, _ = s.Account(ctx, a.ID)
	fmt.Println(tx.Status)
	fmt.Println("available", a.Available, "current", a.Current)
	// Output:
	// PENDING nonce 0
	// available 4999950000000000000 current 20000000000000000000
	// SUCCESSFUL
	// available 4999950000000000000 current 4999950000000000000
}

// A transfer stuck in the mempool is re-signed with the same nonce and
// higher fees. The new attempt is recorded before it is sent, so whichever
// attempt lands, Settle can name it.
func Example_feeBump() {
	ctx := context.Background()
	s, err := sqlite.Open(sqlite.Memory, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	a, err := s.CreateAccount(ctx, consolidate.NewAccount{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Credit(ctx, a.ID, big.NewInt(1_000_000), "deposit-1"); err != nil {
		log.Fatal(err)
	}

	// A real signer is consolidate.Chain.Sign, and Chain.Bump makes the
	// replacement's quote.
	sign := func(nonce uint64, q consolidate.Quote) consolidate.SignedTx {
		raw := fmt.Appendf(nil, "signed transfer, nonce %d, fee cap %s", nonce, q.GasFeeCap)
		return consolidate.SignedTx{Hash: sha256.Sum256(raw), Raw: raw}
	}
	q := consolidate.Quote{GasLimit: 21_000, GasTipCap: big.NewInt(1_000_000_000), GasFeeCap: big.NewInt(20_000_000_000)}
	tx, _, err := s.Submit(ctx, consolidate.SubmitParams{
		AccountID: a.ID,
		From:      common.HexToAddress("0x1111111111111111111111111111111111111111"),
		To:        common.HexToAddress("0x2222222222222222222222222222222222222222"),
		Amount:    big.NewInt(400_000),
		FeeTotal:  big.NewInt(1_000),
		Quote:     q,
	}, func(nonce uint64) (consolidate.SignedTx, error) { return sign(nonce, q), nil })
	if err != nil {
		log.Fatal(err)
	}

	bumped := consolidate.Quote{GasLimit: q.GasLimit, GasTipCap: big.NewInt(1_100_000_000), GasFeeCap: big.NewInt(22_000_000_000)}
	bump := consolidate.Attempt{SignedTx: sign(tx.Nonce, bumped), Quote: bumped}
	if err := s.AddAttempt(ctx, tx.ID, bump); err != nil {
		log.Fatal(err)
	}
	attempts, err := s.Attempts(ctx, tx.ID)
	if err != nil {
		log.Fatal(err)
	}
	for i, at := range attempts {
		fmt.Println("attempt", i, "fee cap", at.Quote.GasFeeCap)
	}

	// The bump landed: the transfer takes its hash.
	tx, err = s.Settle(ctx, tx.ID, consolidate.Settlement{
		Outcome:       consolidate.OutcomeSuccess,
		Hash:          bump.Hash,
		FeeBlockchain: big.NewInt(21_000 * 12_000_000_000),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tx.Status, "with the bump:", tx.Hash == bump.Hash)
	// Output:
	// attempt 0 fee cap 20000000000
	// attempt 1 fee cap 22000000000
	// SUCCESSFUL with the bump: true
}
