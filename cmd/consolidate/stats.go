package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/go-consolidate/consolidate"
)

type statsView struct {
	Pending       int64        `json:"pending"`
	Parked        int64        `json:"parked"`
	OldestPending string       `json:"oldest_pending,omitempty"`
	OldestAgeSecs int64        `json:"oldest_pending_age_seconds"`
	Wallets       []walletView `json:"wallets"`
	// Queue is nil without -redis: the CLI cannot see an in-process
	// queue.
	Queue *queueView `json:"queue"`
}

type walletView struct {
	Sender     string `json:"sender"`
	NextNonce  uint64 `json:"next_nonce"`
	Open       int64  `json:"open"`
	LowestOpen uint64 `json:"lowest_open"`
	// From the node, with -rpc, for the key's wallet only.
	Finalized *uint64 `json:"finalized_nonce,omitempty"`
	Balance   string  `json:"balance,omitempty"`
}

type queueView struct {
	Name     string `json:"name"`
	Ready    int    `json:"ready"`
	Delayed  int    `json:"delayed"`
	InFlight int    `json:"in_flight"`
	Dead     int    `json:"dead"`
}

func runStats(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("stats", "[flags]")
	if err := c.noArgs(fs, args); err != nil {
		return err
	}
	s, ctx, err := c.open(ctx, needs{})
	if err != nil {
		return err
	}
	defer s.close()
	o, err := s.svc.Overview(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	v := statsView{Pending: o.Pending, Parked: o.Parked, OldestPending: stamp(o.OldestPending), Wallets: []walletView{}}
	if !o.OldestPending.IsZero() {
		v.OldestAgeSecs = int64(now.Sub(o.OldestPending) / time.Second)
	}
	if o.Queue != nil {
		v.Queue = &queueView{Name: c.opts.queue, Ready: o.Queue.Ready, Delayed: o.Queue.Delayed, InFlight: o.Queue.InFlight, Dead: o.Queue.Dead}
	}
	if s.chain != nil {
		// The node's view of the key's wallet, and the ledger's of all.
		ws, err := s.svc.Wallets(ctx)
		if err != nil {
			return err
		}
		for _, w := range ws {
			v.Wallets = append(v.Wallets, newWalletView(w, w.Sender == s.chain.Sender()))
		}
	} else {
		for _, w := range o.Wallets {
			v.Wallets = append(v.Wallets, newWalletView(consolidate.Wallet{WalletNonces: w}, false))
		}
	}
	if c.opts.json {
		return writeJSON(c.stdout, v)
	}
	return c.printStats(now, o, v, s.chain != nil)
}

func newWalletView(w consolidate.Wallet, own bool) walletView {
	v := walletView{Sender: w.Sender.Hex(), NextNonce: w.Next, Open: w.Open, LowestOpen: w.LowestOpen}
	if own {
		v.Finalized = new(w.Finalized)
		v.Balance = wei(w.Balance)
	}
	return v
}

// printStats prints v, with the node's columns when node is set (-rpc).
func (c *cli) printStats(now time.Time, o consolidate.Overview, v statsView, node bool) error {
	oldest := "-"
	if !o.OldestPending.IsZero() {
		oldest = short(o.OldestPending) + " (" + age(now, o.OldestPending) + " ago)"
	}
	queue := "unknown: give -redis to see the workers' queue"
	if v.Queue != nil {
		q := v.Queue
		queue = fmt.Sprintf("%s: %d ready, %d delayed, %d in flight, %d dead", q.Name, q.Ready, q.Delayed, q.InFlight, q.Dead)
	}
	if err := pairs(c.stdout,
		"pending", strconv.FormatInt(v.Pending, 10),
		"parked", strconv.FormatInt(v.Parked, 10),
		"oldest pending", oldest,
		"queue", queue,
	); err != nil {
		return err
	}
	if len(v.Wallets) == 0 {
		return nil
	}
	fmt.Fprintln(c.stdout)
	header := []string{"WALLET", "NEXT NONCE", "OPEN", "LOWEST OPEN"}
	if node {
		header = append(header, "FINALIZED NONCE", "BALANCE (wei)")
	}
	t := newTable(c.stdout, header...)
	for _, w := range v.Wallets {
		lowest := "-"
		if w.Open > 0 {
			lowest = strconv.FormatUint(w.LowestOpen, 10)
		}
		row := []string{w.Sender, strconv.FormatUint(w.NextNonce, 10), strconv.FormatInt(w.Open, 10), lowest}
		if node {
			fin := "-"
			if w.Finalized != nil {
				fin = strconv.FormatUint(*w.Finalized, 10)
			}
			row = append(row, fin, dash(w.Balance))
		}
		t.row(row...)
	}
	return t.flush()
}
