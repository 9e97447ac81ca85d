package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// network is the chain the service sends on, and what shuts it down.
type network struct {
	chain consolidate.Chain
	// local is the in-process chain, nil on a real one.
	local *chaintest.Chain
	close func()
}

// openNetwork dials the configured node, or starts an in-process chain
// that mines a block every c.blockTime.
//
// The in-process chain lives in memory: a restart begins a new chain with a
// new random wallet. go-ethereum's simulated backend resets its chain to
// genesis when it starts, so it cannot be given a home on disk. The wallet
// must be new: a ledger kept with -db remembers every nonce it handed out
// per sending address, and a reused address would ask the new chain for
// nonces it has never seen.
func openNetwork(ctx, mining context.Context, c config, log *slog.Logger) (*network, error) {
	if !c.embedded() {
		ch, err := chain.Dial(ctx, c.rpcURL, c.key, &chain.Options{Confirmations: c.confirmations})
		if err != nil {
			// The error may quote the URL, which may hold an API key.
			return nil, fmt.Errorf("connect to the JSON-RPC node: %w", stripURL(err, c.rpcURL))
		}
		log.Info("connected to the chain", "chain_id", ch.ChainID(), "sender", ch.Sender().Hex())
		return &network{chain: ch, close: ch.Close}, nil
	}
	sim, err := chaintest.New(nil)
	if err != nil {
		return nil, err
	}
	reverter, err := sim.DeployReverter(ctx)
	if err != nil {
		sim.Close()
		return nil, err
	}
	confirmations := c.confirmations
	if confirmations == 0 {
		confirmations = 2
	}
	ch, err := sim.NewChain(&chain.Options{Confirmations: confirmations})
	if err != nil {
		sim.Close()
		return nil, err
	}
	sim.AutoMine(mining, c.blockTime)
	// Transfers to reverting_contract are mined and revert: they end
	// FAILED, the amount refunded and the fee charged.
	log.Info("in-process chain", "chain_id", chaintest.ChainID, "sender", sim.Sender().Hex(), "reverting_contract", reverter.Hex(), "block_time", c.blockTime)
	return &network{chain: ch, local: sim, close: func() { sim.Close() }}, nil
}

// urlError hides a URL inside an error's text.
type urlError struct {
	err error
	url string
}

func (e urlError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.url, "<rpc url>")
}

func (e urlError) Unwrap() error { return e.err }

func stripURL(err error, url string) error {
	if url == "" {
		return err
	}
	return urlError{err: err, url: url}
}
