package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
)

// checkChainFlags refuses a command that signs without everything it
// needs to sign for the right wallet on the right network.
func (c *cli) checkChainFlags() error {
	var missing []string
	if c.opts.rpc == "" {
		missing = append(missing, "-rpc URL (or "+envRPC+")")
	}
	if c.opts.keyFile == "" && c.getenv(envKey) == "" {
		missing = append(missing, "the wallet key: -key-file path (or "+envKeyFile+", or the key in "+envKey+")")
	}
	if c.opts.chainID == "" {
		missing = append(missing, "-chain-id N (or "+envChainID+")")
	}
	if len(missing) > 0 {
		return usagef("this command signs a transaction and needs %s", strings.Join(missing, ", "))
	}
	return nil
}

// dialChain connects to the node, and checks that it is on -chain-id
// when one is given.
func (c *cli) dialChain(ctx context.Context) (*chain.Chain, error) {
	var want *big.Int
	if c.opts.chainID != "" {
		id, ok := new(big.Int).SetString(c.opts.chainID, 10)
		if !ok || id.Sign() <= 0 {
			return nil, usagef("-chain-id %q is not a positive integer", c.opts.chainID)
		}
		want = id
	}
	key, err := c.key()
	if err != nil {
		return nil, err
	}
	// The node is asked for its chain ID rather than told -chain-id, so
	// that a URL pointing at the wrong network is caught before signing.
	ch, err := chain.Dial(ctx, c.opts.rpc, key, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to the node at -rpc: %w", hideURL(err, c.opts.rpc))
	}
	if want != nil && ch.ChainID().Cmp(want) != 0 {
		ch.Close()
		return nil, fmt.Errorf("the node at -rpc is on chain %v, not -chain-id %v", ch.ChainID(), want)
	}
	return ch, nil
}

// key reads the wallet's private key from -key-file or the environment.
// Its errors never quote the key.
func (c *cli) key() (*ecdsa.PrivateKey, error) {
	hex, from := c.getenv(envKey), envKey
	if c.opts.keyFile != "" {
		b, err := os.ReadFile(c.opts.keyFile)
		if err != nil {
			return nil, fmt.Errorf("-key-file: %w", err)
		}
		hex, from = string(b), c.opts.keyFile
	}
	if hex == "" {
		return nil, usagef("no wallet key: give -key-file or set %s", envKey)
	}
	k, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(hex), "0x"))
	if err != nil {
		return nil, usagef("%s does not hold a 32-byte hex private key", from)
	}
	return k, nil
}

// hideURL keeps a node URL, which may hold an API key, out of an error.
func hideURL(err error, url string) error {
	if url == "" || !strings.Contains(err.Error(), url) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), url, "<rpc url>"))
}

// errNoChain is what noChain answers: commands that reach the chain open
// a session with needs.chain, so it shows only if the library's use of
// the chain changes.
var errNoChain = errors.New("no chain configured: give -rpc, the wallet key and -chain-id")

// noChain is the Chain of a Service that only reads the ledger and
// requeues: none of that reaches the chain.
type noChain struct{}

var _ consolidate.Chain = noChain{}

func (noChain) Sender() common.Address                { return common.Address{} }
func (noChain) Nonce(context.Context) (uint64, error) { return 0, errNoChain }
func (noChain) FinalizedNonce(context.Context) (uint64, error) {
	return 0, errNoChain
}
func (noChain) Quote(context.Context, consolidate.Transfer) (consolidate.Quote, error) {
	return consolidate.Quote{}, errNoChain
}
func (noChain) Sign(context.Context, uint64, consolidate.Transfer, consolidate.Quote) (consolidate.SignedTx, error) {
	return consolidate.SignedTx{}, errNoChain
}
func (noChain) SignCancel(context.Context, uint64, consolidate.Quote) (consolidate.SignedTx, error) {
	return consolidate.SignedTx{}, errNoChain
}
func (noChain) Bump(context.Context, consolidate.Quote) (consolidate.Quote, error) {
	return consolidate.Quote{}, errNoChain
}
func (noChain) Broadcast(context.Context, []byte) error { return errNoChain }
func (noChain) Statuses(context.Context, []common.Hash) ([]consolidate.ChainStatus, error) {
	return nil, errNoChain
}
