package chain_test

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
)

func TestTransferTopic(t *testing.T) {
	t.Parallel()
	if want := crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)")); chain.TransferTopic != want {
		t.Fatalf("TransferTopic %s, want %s", chain.TransferTopic, want)
	}
}

func TestTransferData(t *testing.T) {
	t.Parallel()
	to := common.HexToAddress("0x00000000000000000000000000000000000000a1")
	max256 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	selector := crypto.Keccak256([]byte("transfer(address,uint256)"))[:4]
	tests := []struct {
		name    string
		amount  *big.Int
		want    string // hex of the two words after the selector
		wantErr error
	}{
		{"one", big.NewInt(1), "00000000000000000000000000000000000000000000000000000000000000a1" + "0000000000000000000000000000000000000000000000000000000000000001", nil},
		{"zero", new(big.Int), "00000000000000000000000000000000000000000000000000000000000000a1" + "0000000000000000000000000000000000000000000000000000000000000000", nil},
		{"max", max256, "00000000000000000000000000000000000000000000000000000000000000a1" + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", nil},
		{"nil", nil, "", consolidate.ErrInvalidAmount},
		{"negative", big.NewInt(-1), "", consolidate.ErrInvalidAmount},
		{"above uint256", new(big.Int).Lsh(big.NewInt(1), 256), "", consolidate.ErrInvalidAmount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := chain.TransferData(to, tt.amount)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			want := append(bytes.Clone(selector), common.FromHex(tt.want)...)
			if !bytes.Equal(data, want) {
				t.Fatalf("data %x\nwant %x", data, want)
			}
			gotTo, gotAmount, err := chain.ParseTransferData(data)
			if err != nil || gotTo != to || gotAmount.Cmp(tt.amount) != 0 {
				t.Fatalf("ParseTransferData: %s, %v, %v", gotTo, gotAmount, err)
			}
		})
	}
}

func TestParseTransferDataRejects(t *testing.T) {
	t.Parallel()
	good, err := chain.TransferData(common.HexToAddress("0xa1"), big.NewInt(5))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := map[string][]byte{
		"nil":             nil,
		"selector only":   good[:4],
		"short":           good[:len(good)-1],
		"trailing byte":   append(bytes.Clone(good), 0),
		"other selector":  edit(func(b []byte) []byte { b[0] = 0x23; return b }),
		"dirty recipient": edit(func(b []byte) []byte { b[4] = 1; return b }),
		"approve":         append(common.FromHex("0x095ea7b3"), good[4:]...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if to, amount, err := chain.ParseTransferData(data); !errors.Is(err, chain.ErrNotTransferCall) {
				t.Fatalf("got %s, %v, %v; want ErrNotTransferCall", to, amount, err)
			}
		})
	}
}

func TestTokenTransfers(t *testing.T) {
	t.Parallel()
	token := common.HexToAddress("0x7070")
	other := common.HexToAddress("0x8080")
	from := common.HexToAddress("0xf1")
	to := common.HexToAddress("0xf2")
	word := func(n int64) []byte { return common.LeftPadBytes(big.NewInt(n).Bytes(), 32) }
	addr := func(a common.Address) common.Hash { return common.BytesToHash(a[:]) }
	transfer := func(amount int64) *types.Log {
		return &types.Log{Address: token, Topics: []common.Hash{chain.TransferTopic, addr(from), addr(to)}, Data: word(amount)}
	}
	with := func(f func(l *types.Log)) *types.Log {
		l := transfer(1)
		f(l)
		return l
	}
	dirty := addr(to)
	dirty[0] = 1

	tests := []struct {
		name string
		logs []*types.Log
		want []int64 // amounts of the transfers found, all from → to
	}{
		{"none", nil, nil},
		{"one", []*types.Log{transfer(42)}, []int64{42}},
		{"two in order", []*types.Log{transfer(99), transfer(1)}, []int64{99, 1}},
		{"zero amount", []*types.Log{transfer(0)}, []int64{0}},
		{"nil log", []*types.Log{nil, transfer(7)}, []int64{7}},
		{"other contract", []*types.Log{with(func(l *types.Log) { l.Address = other }), transfer(3)}, []int64{3}},
		{"removed by reorg", []*types.Log{with(func(l *types.Log) { l.Removed = true })}, nil},
		{"other event", []*types.Log{with(func(l *types.Log) { l.Topics[0] = common.HexToHash("0x01") })}, nil},
		{"no topics", []*types.Log{with(func(l *types.Log) { l.Topics = nil })}, nil},
		{"two topics", []*types.Log{with(func(l *types.Log) { l.Topics = l.Topics[:2] })}, nil},
		{"ERC-721 four topics", []*types.Log{with(func(l *types.Log) { l.Topics = append(l.Topics, addr(to)); l.Data = nil })}, nil},
		{"empty data", []*types.Log{with(func(l *types.Log) { l.Data = nil })}, nil},
		{"short data", []*types.Log{with(func(l *types.Log) { l.Data = l.Data[:31] })}, nil},
		{"long data", []*types.Log{with(func(l *types.Log) { l.Data = append(l.Data, 0) })}, nil},
		{"dirty address topic", []*types.Log{with(func(l *types.Log) { l.Topics[2] = dirty })}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := chain.TokenTransfers(token, tt.logs)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want amounts %v", got, tt.want)
			}
			for i, tr := range got {
				if tr.Token != token || tr.From != from || tr.To != to || tr.Amount.Int64() != tt.want[i] {
					t.Fatalf("transfer %d: %+v, want %d from %s to %s", i, tr, tt.want[i], from, to)
				}
			}
		})
	}
}
