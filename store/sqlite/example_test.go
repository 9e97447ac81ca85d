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

	a, err := s.CreateAccount(ctx)
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
