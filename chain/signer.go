package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// Signer holds the sending wallet's key, or reaches whatever holds it: a
// key in process memory, a remote signer over JSON-RPC (Clef, Web3Signer,
// geth), a cloud KMS, an HSM or an MPC service.
//
// Implementations must be safe for concurrent use, return errors rather
// than retry, and honour ctx's deadline and cancellation. The library
// checks every transaction a Signer returns against the one it asked for
// (CheckSigned) before it stores it, so a Signer cannot make it send
// anything else.
type Signer interface {
	// Address is the wallet the Signer signs for. It never changes.
	Address() common.Address
	// SignTx signs tx for chainID and returns the signed transaction. It
	// must not modify tx. It may be slow and may do I/O.
	//
	// An error that wraps ErrSignerRefused or ErrSignerMismatch is
	// permanent: the same request will fail again. Any other error is
	// temporary (a network failure, a timeout, a busy or restarting
	// service) and the same request may succeed later; ErrSignerUnavailable
	// marks the ones the package's own signers know to be so.
	SignTx(ctx context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error)
}

// Errors of the package's Signers, matched with errors.Is.
var (
	// ErrSignerRefused: the signer answered and declined: an unknown or
	// locked account, a policy that forbids the transaction, a request it
	// cannot parse, a method it does not serve, or a credential it does
	// not accept. The same request will be refused again.
	ErrSignerRefused = errors.New("consolidate: chain: signer refused")
	// ErrSignerUnavailable: the signer could not be reached or did not
	// answer in time (network error, timeout, HTTP 429 or 5xx, a
	// cancelled context). Nothing was signed that anyone will send, and
	// the request may be repeated. A context error is wrapped too, so
	// errors.Is(err, context.DeadlineExceeded) holds after a timeout.
	ErrSignerUnavailable = errors.New("consolidate: chain: signer unavailable")
)

var _ Signer = (*localSigner)(nil)

// localSigner signs with a private key in process memory.
type localSigner struct {
	key  *ecdsa.PrivateKey
	addr common.Address
	// last is the types.Signer of the last chain ID seen. A service signs
	// for one chain, so one entry is enough; another chain ID replaces it.
	last atomic.Pointer[chainSigner]
}

type chainSigner struct {
	id     *big.Int
	signer types.Signer
}

// NewLocalSigner returns a Signer that signs in process with key. It does
// no I/O, and the same request always gives the same bytes (RFC 6979). A
// key with a missing or mismatched public half is rebuilt from its
// private scalar; a missing or out-of-range scalar is an error.
func NewLocalSigner(key *ecdsa.PrivateKey) (Signer, error) {
	k, err := normalizeKey(key)
	if err != nil {
		return nil, err
	}
	return &localSigner{key: k, addr: crypto.PubkeyToAddress(k.PublicKey)}, nil
}

func (s *localSigner) Address() common.Address { return s.addr }

func (s *localSigner) SignTx(ctx context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignerUnavailable, err)
	}
	if tx == nil || chainID == nil || chainID.Sign() <= 0 {
		return nil, fmt.Errorf("%w: need a transaction and a positive chain ID", ErrSignerRefused)
	}
	signed, err := types.SignTx(tx, s.signerFor(chainID), s.key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignerRefused, err)
	}
	return signed, nil
}

// signerFor returns the types.Signer for id, made once per chain ID rather
// than on every signature.
func (s *localSigner) signerFor(id *big.Int) types.Signer {
	if c := s.last.Load(); c != nil && c.id.Cmp(id) == 0 {
		return c.signer
	}
	c := &chainSigner{id: new(big.Int).Set(id), signer: types.LatestSignerForChainID(id)}
	s.last.Store(c)
	return c.signer
}
