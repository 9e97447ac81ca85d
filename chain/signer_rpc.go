package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
)

// RPCSignerOptions configures an RPCSigner. The zero value (or nil) means
// defaults.
type RPCSignerOptions struct {
	// Method is the JSON-RPC method that signs a transaction without
	// sending it. Defaults to "eth_signTransaction", which Web3Signer and
	// geth (for accounts it holds unlocked) serve. Clef serves the same
	// request as "account_signTransaction".
	Method string
}

// RPCSigner is a Signer that asks a remote signer over JSON-RPC. The key
// never enters this process. It is safe for concurrent use.
type RPCSigner struct {
	client *rpc.Client
	closer func() // closes a client that DialRPCSigner opened; nil otherwise
	from   common.Address
	method string
}

var _ Signer = (*RPCSigner)(nil)

// NewRPCSigner returns a Signer that asks the server behind client to sign
// for from. It does no I/O: an unknown account shows as ErrSignerRefused
// on the first SignTx, and a server that signs with another key as
// ErrSignerMismatch from CheckSigned.
func NewRPCSigner(client *rpc.Client, from common.Address, opts *RPCSignerOptions) (*RPCSigner, error) {
	if client == nil {
		return nil, errors.New("consolidate: chain: nil signer client")
	}
	if from == (common.Address{}) {
		return nil, errors.New("consolidate: chain: signer address is the zero address")
	}
	method := "eth_signTransaction"
	if opts != nil && opts.Method != "" {
		method = opts.Method
	}
	return &RPCSigner{client: client, from: from, method: method}, nil
}

// DialRPCSigner connects to the signer at url (http, https, ws, wss or an
// IPC path) and returns an RPCSigner on it. Close releases the connection.
func DialRPCSigner(ctx context.Context, url string, from common.Address, opts *RPCSignerOptions) (*RPCSigner, error) {
	client, err := rpc.DialContext(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("consolidate: chain: dial signer: %w", err)
	}
	s, err := NewRPCSigner(client, from, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	s.closer = client.Close
	return s, nil
}

// Close closes the connection DialRPCSigner opened. For an RPCSigner made
// with NewRPCSigner it does nothing: the caller owns that client.
func (s *RPCSigner) Close() {
	if s.closer != nil {
		s.closer()
	}
}

// Address is the account the remote signer is asked to sign for.
func (s *RPCSigner) Address() common.Address { return s.from }

// SignTx sends tx's fields to the remote signer and decodes the signed
// transaction it returns, either as geth and Clef answer ({raw, tx}) or as
// Web3Signer does (the raw bytes alone). Only EIP-1559 (type 2)
// transactions are asked for. A JSON-RPC error answer wraps
// ErrSignerRefused, unless its code says the server is busy or failed
// inside (-32002, -32005, -32603); those, transport failures, timeouts and
// HTTP 408, 429 and 5xx wrap ErrSignerUnavailable. An answer that is not a
// transaction wraps ErrSignerMismatch.
//
// The remote signer only signs; it sends nothing. A timed-out request may
// still have been signed there, which is harmless: those bytes reach no
// one.
func (s *RPCSigner) SignTx(ctx context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	if tx == nil || chainID == nil || chainID.Sign() <= 0 {
		return nil, fmt.Errorf("%w: need a transaction and a positive chain ID", ErrSignerRefused)
	}
	if tx.Type() != types.DynamicFeeTxType {
		return nil, fmt.Errorf("%w: transaction type %d, only type 2 is sent to a remote signer", ErrSignerRefused, tx.Type())
	}
	var answer json.RawMessage
	if err := s.client.CallContext(ctx, &answer, s.method, newSignArgs(s.from, tx, chainID)); err != nil {
		return nil, classifySignerError(s.method, err)
	}
	signed, err := decodeSigned(answer)
	if err != nil {
		return nil, fmt.Errorf("%w: %s answered %.64s: %w", ErrSignerMismatch, s.method, answer, err)
	}
	return signed, nil
}

// signArgs is the transaction as eth_signTransaction takes it (geth's
// TransactionArgs, Clef's SendTxArgs). The calldata goes as both "data"
// and "input": older servers read the one, newer the other, and geth and
// Clef accept both when they are equal.
type signArgs struct {
	From                 common.Address    `json:"from"`
	To                   *common.Address   `json:"to,omitempty"`
	Gas                  hexutil.Uint64    `json:"gas"`
	MaxFeePerGas         *hexutil.Big      `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexutil.Big      `json:"maxPriorityFeePerGas"`
	Value                *hexutil.Big      `json:"value"`
	Nonce                hexutil.Uint64    `json:"nonce"`
	Data                 hexutil.Bytes     `json:"data"`
	Input                hexutil.Bytes     `json:"input"`
	ChainID              *hexutil.Big      `json:"chainId"`
	Type                 hexutil.Uint64    `json:"type"`
	AccessList           *types.AccessList `json:"accessList,omitempty"`
}

func newSignArgs(from common.Address, tx *types.Transaction, chainID *big.Int) signArgs {
	a := signArgs{
		From:                 from,
		To:                   tx.To(),
		Gas:                  hexutil.Uint64(tx.Gas()),
		MaxFeePerGas:         (*hexutil.Big)(tx.GasFeeCap()),
		MaxPriorityFeePerGas: (*hexutil.Big)(tx.GasTipCap()),
		Value:                (*hexutil.Big)(tx.Value()),
		Nonce:                hexutil.Uint64(tx.Nonce()),
		Data:                 tx.Data(),
		Input:                tx.Data(),
		ChainID:              (*hexutil.Big)(chainID),
		Type:                 hexutil.Uint64(tx.Type()),
	}
	if al := tx.AccessList(); len(al) > 0 {
		a.AccessList = &al
	}
	return a
}

// decodeSigned reads a signed transaction from either answer shape: an
// object with the encoded bytes in "raw" (and the decoded form in "tx"),
// or a string holding the encoded bytes.
func decodeSigned(answer json.RawMessage) (*types.Transaction, error) {
	var raw hexutil.Bytes
	if len(answer) > 0 && answer[0] == '"' {
		if err := json.Unmarshal(answer, &raw); err != nil {
			return nil, err
		}
	} else {
		var obj struct {
			Raw hexutil.Bytes      `json:"raw"`
			Tx  *types.Transaction `json:"tx"`
		}
		if err := json.Unmarshal(answer, &obj); err != nil {
			return nil, err
		}
		if len(obj.Raw) == 0 && obj.Tx != nil {
			return obj.Tx, nil
		}
		raw = obj.Raw
	}
	if len(raw) == 0 {
		return nil, errors.New("no signed transaction")
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(raw); err != nil {
		return nil, err
	}
	return tx, nil
}

// classifySignerError tells a refusal from a failure to get an answer.
func classifySignerError(method string, err error) error {
	var rpcErr rpc.Error
	var httpErr rpc.HTTPError
	temporary := true
	switch {
	case errors.As(err, &rpcErr):
		switch rpcErr.ErrorCode() {
		case -32002, -32005, -32603: // resource unavailable (geth: timed out), limit exceeded, internal error
		default:
			temporary = false
		}
	case errors.As(err, &httpErr):
		c := httpErr.StatusCode
		temporary = c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500
	}
	if temporary {
		return fmt.Errorf("%w: %s: %w", ErrSignerUnavailable, method, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrSignerRefused, method, err)
}
