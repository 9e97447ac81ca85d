package chain_test

import (
	"context"
	"fmt"
	"log"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
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

	q, err := c.Quote(ctx, consolidate.Transfer{To: to, Amount: amount})
	if err != nil {
		log.Fatal(err)
	}
	nonce, err := c.Nonce(ctx)
	if err != nil {
		log.Fatal(err)
	}
	tx, err := c.Sign(ctx, nonce, consolidate.Transfer{To: to, Amount: amount}, q)
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

// A transfer stuck in the mempool, voided by a cancel: a zero-value
// transfer to the wallet itself with the same nonce and fees bumped enough
// for the node to take it in the transfer's place.
func Example_cancel() {
	sim, err := chaintest.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	c, err := sim.NewChain(nil)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	amount := big.NewInt(1_000_000_000_000_000)
	q, err := c.Quote(ctx, consolidate.Transfer{To: to, Amount: amount})
	if err != nil {
		log.Fatal(err)
	}
	nonce, err := c.Nonce(ctx)
	if err != nil {
		log.Fatal(err)
	}
	transfer, err := c.Sign(ctx, nonce, consolidate.Transfer{To: to, Amount: amount}, q)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Broadcast(ctx, transfer.Raw); err != nil {
		log.Fatal(err)
	}

	// Persist every attempt before sending it: any of them may be the one
	// included.
	bumped, err := c.Bump(ctx, q)
	if err != nil {
		log.Fatal(err)
	}
	cancel, err := c.SignCancel(ctx, nonce, bumped)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Broadcast(ctx, cancel.Raw); err != nil {
		log.Fatal(err)
	}

	sim.Commit()
	st, err := c.Statuses(ctx, []common.Hash{transfer.Hash, cancel.Hash})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("transfer:", st[0].State)
	fmt.Println("cancel:", st[1].State)
	final, err := c.FinalizedNonce(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("nonces used for good:", final)
	// Output:
	// transfer: unknown
	// cancel: final
	// nonces used for good: 1
}
