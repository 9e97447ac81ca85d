package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/go-consolidate/consolidate"
)

// TransferTopic is the first topic of an ERC-20 Transfer event:
// keccak256("Transfer(address,address,uint256)").
var TransferTopic = common.HexToHash("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")

// ERC-20 function selectors: the first four bytes of keccak256 of each
// function's signature.
var (
	transferSelector  = []byte{0xa9, 0x05, 0x9c, 0xbb} // transfer(address,uint256)
	balanceOfSelector = []byte{0x70, 0xa0, 0x82, 0x31} // balanceOf(address)
	symbolSelector    = []byte{0x95, 0xd8, 0x9b, 0x41} // symbol()
	decimalsSelector  = []byte{0x31, 0x3c, 0xe5, 0x67} // decimals()
)

// ErrNotTransferCall: calldata that is not exactly an ERC-20
// transfer(address,uint256) call.
var ErrNotTransferCall = errors.New("consolidate: chain: not an ERC-20 transfer call")

// wordLen is the size of an ABI word.
const wordLen = 32

// transferDataLen is a selector and two words: the recipient and amount.
const transferDataLen = 4 + 2*wordLen

// TokenTransfer is one ERC-20 Transfer event: Amount of the token
// contract Token moved from From to To.
type TokenTransfer = consolidate.TokenTransfer

// TransferData returns the calldata of transfer(to, amount): the selector
// 0xa9059cbb and two 32-byte words. An amount that is nil, negative or
// above 2^256-1 is an error wrapping consolidate.ErrInvalidAmount; zero is
// valid ABI and encoded.
func TransferData(to common.Address, amount *big.Int) ([]byte, error) {
	if amount == nil || amount.Sign() < 0 || amount.BitLen() > 256 {
		return nil, fmt.Errorf("%w: %v", consolidate.ErrInvalidAmount, amount)
	}
	data := make([]byte, transferDataLen)
	copy(data, transferSelector)
	copy(data[4+wordLen-common.AddressLength:], to[:])
	amount.FillBytes(data[4+wordLen:])
	return data, nil
}

// ParseTransferData decodes calldata TransferData built. Anything else,
// including a recipient word with nonzero high bytes or trailing bytes,
// is an error wrapping ErrNotTransferCall: a signer's intent is read
// exactly or not at all.
func ParseTransferData(data []byte) (to common.Address, amount *big.Int, err error) {
	if len(data) != transferDataLen || string(data[:4]) != string(transferSelector) {
		return common.Address{}, nil, fmt.Errorf("%w: %s", ErrNotTransferCall, dataString(data))
	}
	to, ok := addressWord(data[4 : 4+wordLen])
	if !ok {
		return common.Address{}, nil, fmt.Errorf("%w: recipient word %#x is not an address", ErrNotTransferCall, data[4:4+wordLen])
	}
	return to, new(big.Int).SetBytes(data[4+wordLen:]), nil
}

// TokenTransfers returns the Transfer events token emitted among logs, in
// their order. Logs of other contracts, logs removed by a reorg and
// malformed logs are skipped: a topic count other than three (ERC-721's
// Transfer has four), an address topic with nonzero high bytes, or data
// other than one 32-byte word.
//
// A successful receipt is not proof of a token transfer: some tokens
// return false without reverting, and some take a fee. What the recipient
// got is in the event whose To is the recipient.
func TokenTransfers(token common.Address, logs []*types.Log) []TokenTransfer {
	var out []TokenTransfer
	for _, e := range transferEvents(logs) {
		if e.Token == token {
			out = append(out, e)
		}
	}
	return out
}

// transferEvents returns the Transfer events of every contract among
// logs, skipping what TokenTransfers skips.
func transferEvents(logs []*types.Log) []TokenTransfer {
	var out []TokenTransfer
	for _, l := range logs {
		if l == nil || l.Removed || len(l.Topics) != 3 || l.Topics[0] != TransferTopic || len(l.Data) != wordLen {
			continue
		}
		from, okFrom := addressWord(l.Topics[1][:])
		to, okTo := addressWord(l.Topics[2][:])
		if !okFrom || !okTo {
			continue
		}
		out = append(out, TokenTransfer{Token: l.Address, From: from, To: to, Amount: new(big.Int).SetBytes(l.Data)})
	}
	return out
}

// addressWord reads an address from a 32-byte ABI word, which must have
// its twelve high bytes zero.
func addressWord(w []byte) (common.Address, bool) {
	if len(w) != wordLen {
		return common.Address{}, false
	}
	for _, b := range w[:wordLen-common.AddressLength] {
		if b != 0 {
			return common.Address{}, false
		}
	}
	return common.BytesToAddress(w[wordLen-common.AddressLength:]), true
}
