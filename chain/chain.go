package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/go-consolidate/consolidate"
)

// Client is the part of a go-ethereum JSON-RPC client a Chain uses. Both
// *ethclient.Client and the simulated backend's client satisfy it. A
// Client that also implements RPCClient is asked in batches where that
// saves round trips.
type Client interface {
	ChainID(ctx context.Context) (*big.Int, error)
	BlockNumber(ctx context.Context) (uint64, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	CodeAt(ctx context.Context, account common.Address, blockNumber *big.Int) ([]byte, error)
	NonceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (uint64, error)
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	SendTransaction(ctx context.Context, tx *types.Transaction) error
	TransactionByHash(ctx context.Context, hash common.Hash) (tx *types.Transaction, isPending bool, err error)
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
}

var (
	_ consolidate.Chain         = (*Chain)(nil)
	_ consolidate.BalanceReader = (*Chain)(nil)
	_ Client                    = (*ethclient.Client)(nil)
	_ RPCClient                 = (*ethclient.Client)(nil)
)

// Chain is a consolidate.Chain for one sending wallet on one Ethereum
// network, reached through a JSON-RPC node. It is safe for concurrent use;
// it holds no mutable state besides the client.
type Chain struct {
	client Client
	closer func() // closes a client that Dial opened; nil otherwise
	// signer signs every transaction; local is the same signer when it
	// is a key in process memory, signed with directly, nil otherwise.
	signer   Signer
	local    *localSigner
	sender   common.Address
	chainID  *big.Int
	txSigner types.Signer
	opts     Options
}

// New returns a Chain that signs with key, in process, and talks to the
// node through client. Unless opts.ChainID is set, it asks the node for
// the chain ID once; that is its only I/O.
func New(ctx context.Context, client Client, key *ecdsa.PrivateKey, opts *Options) (*Chain, error) {
	signer, err := NewLocalSigner(key)
	if err != nil {
		return nil, err
	}
	return NewWithSigner(ctx, client, signer, opts)
}

// NewWithSigner returns a Chain whose transactions signer signs: a remote
// signer (NewRPCSigner), a KMS, an HSM, or a key (NewLocalSigner, which
// is what New uses). The sending wallet is signer.Address(). Every
// transaction a signer that is not a local key returns is checked against
// the request (CheckSigned) before Sign returns it.
func NewWithSigner(ctx context.Context, client Client, signer Signer, opts *Options) (*Chain, error) {
	if client == nil {
		return nil, errors.New("consolidate: chain: nil client")
	}
	if signer == nil {
		return nil, errors.New("consolidate: chain: nil signer")
	}
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.ChainID == nil {
		id, err := client.ChainID(ctx)
		if err != nil {
			return nil, fmt.Errorf("consolidate: chain: chain ID: %w", err)
		}
		if id == nil || id.Sign() <= 0 {
			return nil, fmt.Errorf("consolidate: chain: node reported chain ID %v", id)
		}
		o.ChainID = id
	}
	local, _ := signer.(*localSigner)
	return &Chain{
		client:   client,
		signer:   signer,
		local:    local,
		sender:   signer.Address(),
		chainID:  o.ChainID,
		txSigner: types.LatestSignerForChainID(o.ChainID),
		opts:     o,
	}, nil
}

// Dial connects to the node at url (http, https, ws, wss or an IPC path)
// and returns a Chain on it. Close releases the connection.
func Dial(ctx context.Context, url string, key *ecdsa.PrivateKey, opts *Options) (*Chain, error) {
	signer, err := NewLocalSigner(key)
	if err != nil {
		return nil, err
	}
	return DialWithSigner(ctx, url, signer, opts)
}

// DialWithSigner is Dial for a Chain whose transactions signer signs
// (NewWithSigner).
func DialWithSigner(ctx context.Context, url string, signer Signer, opts *Options) (*Chain, error) {
	client, err := ethclient.DialContext(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("consolidate: chain: dial: %w", err)
	}
	c, err := NewWithSigner(ctx, client, signer, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	c.closer = client.Close
	return c, nil
}

// Close closes the connection Dial opened. For a Chain made with New it
// does nothing: the caller owns that client.
func (c *Chain) Close() {
	if c.closer != nil {
		c.closer()
	}
}

// SignsOffline reports whether the Chain signs with a key in process
// memory, with no I/O (consolidate.OfflineSigning).
func (c *Chain) SignsOffline() bool { return c.local != nil }

// Sender is the address of the wallet that signs and pays for transfers.
func (c *Chain) Sender() common.Address { return c.sender }

// ChainID is the chain ID transactions are signed for.
func (c *Chain) ChainID() *big.Int { return copyBig(c.chainID) }

// Nonce returns the next nonce of the sending wallet, counting the
// transactions in the node's mempool.
func (c *Chain) Nonce(ctx context.Context) (uint64, error) {
	if c.client == nil {
		return 0, errNotNew
	}
	n, err := c.client.PendingNonceAt(ctx, c.sender)
	if err != nil {
		return 0, fmt.Errorf("consolidate: chain: nonce of %s: %w", c.sender, err)
	}
	return n, nil
}

// balanceClient is a Client that reads balances; *ethclient.Client and the
// simulated backend's client are.
type balanceClient interface {
	BalanceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (*big.Int, error)
}

// Balance returns the sending wallet's balance in wei at the latest block.
// A Client without BalanceAt gives an error wrapping errors.ErrUnsupported.
func (c *Chain) Balance(ctx context.Context) (*big.Int, error) {
	bc, ok := c.client.(balanceClient)
	if !ok {
		return nil, fmt.Errorf("consolidate: chain: balance: %w", errors.ErrUnsupported)
	}
	b, err := bc.BalanceAt(ctx, c.sender, nil)
	if err != nil {
		return nil, fmt.Errorf("consolidate: chain: balance of %s: %w", c.sender, err)
	}
	return b, nil
}

// normalizeKey rebuilds the key from its private scalar, so a key with a
// missing or mismatched public half cannot make signing panic or sign for
// an address other than Sender.
func normalizeKey(key *ecdsa.PrivateKey) (*ecdsa.PrivateKey, error) {
	if key == nil || key.D == nil || key.D.Sign() <= 0 || key.D.BitLen() > 256 {
		return nil, errors.New("consolidate: chain: missing or invalid private key")
	}
	k, err := crypto.ToECDSA(math.PaddedBigBytes(key.D, 32))
	if err != nil {
		return nil, fmt.Errorf("consolidate: chain: invalid private key: %w", err)
	}
	return k, nil
}
