package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/go-consolidate/consolidate/chain"
)

// flakySigner signs with a key in process memory but behaves like a
// remote signer having a bad day: every call takes a few milliseconds,
// some fail, some hang until their deadline, and some sign another
// recipient, as a compromised or misconfigured signer would. The Chain
// treats it as a signer that does I/O: Submit reserves the transfer,
// signs outside the store's write, and records the signature after.
type flakySigner struct {
	local chain.Signer
	thief common.Address
}

// Shares of calls that fail, hang past Config.SignTimeout, and lie.
const (
	flakyFail = 0.05
	flakyHang = 0.02
	flakyLie  = 0.02
)

func newFlakySigner(key *ecdsa.PrivateKey) (*flakySigner, error) {
	local, err := chain.NewLocalSigner(key)
	if err != nil {
		return nil, err
	}
	return &flakySigner{local: local, thief: common.HexToAddress("0x00000000000000000000000000000000000bad00")}, nil
}

func (s *flakySigner) Address() common.Address { return s.local.Address() }

func (s *flakySigner) SignTx(ctx context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	delay := time.Duration(1+rand.IntN(10)) * time.Millisecond
	r := rand.Float64()
	if r < flakyHang {
		delay = time.Hour
	}
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", chain.ErrSignerUnavailable, ctx.Err())
	}
	switch {
	case r < flakyHang+flakyFail:
		return nil, fmt.Errorf("%w: soak: signer briefly down", chain.ErrSignerUnavailable)
	case r < flakyHang+flakyFail+flakyLie:
		return s.local.SignTx(ctx, types.NewTx(&types.DynamicFeeTx{
			ChainID: chainID, Nonce: tx.Nonce(), GasTipCap: tx.GasTipCap(), GasFeeCap: tx.GasFeeCap(),
			Gas: tx.Gas(), To: &s.thief, Value: tx.Value(), Data: tx.Data(),
		}), chainID)
	}
	return s.local.SignTx(ctx, tx, chainID)
}

var errUnknownSigner = errors.New("-signer: want local or flaky")
