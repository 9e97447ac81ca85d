package chain_test

import (
	"context"
	"fmt"
	"log"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// A transfer from quote to final, on an in-process chain.
func Example() {
	sim, err := chaintest.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	c, err := sim.NewChain(nil) // final after one block
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	amount := big.NewInt(1_000_000_000_000_000) // 0.001 ether

	q, err := c.Quote(ctx, to, amount)
	if err != nil {
		log.Fatal(err)
	}
	nonce, err := c.Nonce(ctx)
	if err != nil {
		log.Fatal(err)
	}
	tx, err := c.Sign(nonce, to, amount, q)
	if err != nil {
		log.Fatal(err)
	}
	// Persist tx.Raw before this: rebroadcasting the same bytes is safe.
	if err := c.Broadcast(ctx, tx.Raw); err != nil {
		log.Fatal(err)
	}
	st, err := c.Status(ctx, tx.Hash)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.State)

	sim.Commit()
	st, err = c.Status(ctx, tx.Hash)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.State, st.Success, st.Fee.Sign() > 0)
	// Output:
	// pending
	// final true true
}
