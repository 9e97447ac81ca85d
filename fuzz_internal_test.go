package consolidate

import (
	"bytes"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// FuzzDecodeTransaction feeds arbitrary cache entries to the decoder: it
// must never panic, must refuse amounts outside [0, 2^256) and unknown
// statuses, and whatever it accepts must re-encode stably.
func FuzzDecodeTransaction(f *testing.F) {
	tx := Transaction{
		ID: 7, AccountID: 3, From: common.HexToAddress("0xfeed"), To: common.HexToAddress("0xbeef"),
		Amount: new(big.Int).Set(maxUint256), FeeTotal: big.NewInt(50_000_000_000_000),
		FeeBlockchain: big.NewInt(21000), Nonce: 9, Hash: common.HexToHash("0xab"), Raw: []byte{1, 2, 3},
		Status: StatusSuccessful, Version: 4, IdempotencyKey: "k-1", BlockNumber: 12,
		Checks: 2, NextCheckAt: time.Unix(1700000000, 5), CreatedAt: time.Unix(1600000000, 0), UpdatedAt: time.Unix(1700000001, 0),
	}
	b, err := encodeTransaction(tx)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	pending := tx
	pending.Status, pending.FeeBlockchain, pending.Raw, pending.NextCheckAt = StatusPending, nil, nil, time.Time{}
	b, _ = encodeTransaction(pending)
	f.Add(b)
	f.Add([]byte(`{"amount":"-1","fee_total":"0","status":"PENDING"}`))
	f.Add([]byte(`{"amount":"1","fee_total":"1","status":"LOST"}`))
	f.Add([]byte(`{"amount":"115792089237316195423570985008687907853269984665640564039457584007913129639936","fee_total":"0","status":"FAILED"}`))
	f.Add([]byte(`{"raw":"0xzz"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := decodeTransaction(b)
		if err != nil {
			return
		}
		for _, v := range []*big.Int{tx.Amount, tx.FeeTotal, tx.FeeBlockchain} {
			if v != nil && (v.Sign() < 0 || v.Cmp(maxUint256) > 0) {
				t.Fatalf("decoded amount %s out of range", v)
			}
		}
		if tx.Amount == nil || tx.FeeTotal == nil {
			t.Fatal("decoded a transaction without amount or fee")
		}
		if !tx.Status.Final() && tx.Status != StatusPending {
			t.Fatalf("decoded status %q", tx.Status)
		}
		once, err := encodeTransaction(tx)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decodeTransaction(once)
		if err != nil {
			t.Fatalf("decode of our own encoding %s: %v", once, err)
		}
		twice, err := encodeTransaction(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("encoding not stable:\n%s\n%s", once, twice)
		}
	})
}

// FuzzParseTaskBody checks that a reconcile task body is accepted exactly
// when it names a positive transaction ID.
func FuzzParseTaskBody(f *testing.F) {
	for _, s := range []string{"1", "0", "-5", "9223372036854775807", "9223372036854775808", "", " 1", "+1", "1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := parseTaskBody(b)
		want, perr := strconv.ParseInt(string(b), 10, 64)
		if perr != nil || want <= 0 {
			if err == nil {
				t.Fatalf("parseTaskBody(%q) = %d, want an error", b, id)
			}
			return
		}
		if err != nil || id != want {
			t.Fatalf("parseTaskBody(%q) = %d, %v; want %d", b, id, err, want)
		}
		if got, _ := parseTaskBody([]byte(strconv.FormatInt(id, 10))); got != id {
			t.Fatalf("task body of %d does not round-trip", id)
		}
	})
}
