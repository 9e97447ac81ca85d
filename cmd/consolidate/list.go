package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-consolidate/consolidate"
)

// maxPage is the largest page the stores serve.
const maxPage = 1000

// listing is a page of transfers and where the next one starts.
type listing struct {
	Transfers []transferView `json:"transfers"`
	// NextCursor continues the listing with -cursor; 0 when the page was
	// not full, so there is nothing more.
	NextCursor int64 `json:"next_cursor"`
}

func runList(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("list", "[flags]")
	status := fs.String("status", "", "only transfers in this status: PENDING, SUCCESSFUL or FAILED")
	parked := fs.Bool("parked", false, "only parked transfers (PENDING, check budget spent)")
	olderThan := fs.Duration("older-than", 0, "only transfers created longer ago than this, e.g. 1h")
	limit := fs.Int("limit", 50, "page size, 1 to 1000")
	cursor := fs.Int64("cursor", 0, "continue a listing: the next_cursor of the previous page")
	oldest := fs.Bool("oldest", false, "oldest first; the default is newest first")
	if err := c.noArgs(fs, args); err != nil {
		return err
	}
	f := consolidate.Filter{Status: consolidate.Status(strings.ToUpper(*status)), Parked: *parked, Oldest: *oldest, Cursor: *cursor, Limit: *limit}
	if err := checkFilter(f, *olderThan); err != nil {
		return err
	}
	s, ctx, err := c.open(ctx, needs{})
	if err != nil {
		return err
	}
	defer s.close()
	txs, next, err := list(ctx, s.svc, f, *olderThan)
	if err != nil {
		return err
	}
	return c.printListing(txs, next)
}

func checkFilter(f consolidate.Filter, olderThan time.Duration) error {
	switch {
	case f.Limit < 1 || f.Limit > maxPage:
		return usagef("-limit %d is not in 1..%d", f.Limit, maxPage)
	case f.Cursor < 0:
		return usagef("-cursor %d is negative", f.Cursor)
	case olderThan < 0:
		return usagef("-older-than %v is negative", olderThan)
	case f.Status != "" && f.Status != consolidate.StatusPending && !f.Status.Final():
		return usagef("-status %q is not PENDING, SUCCESSFUL or FAILED", f.Status)
	case f.Parked && f.Status != "" && f.Status != consolidate.StatusPending:
		return usagef("-parked transfers are PENDING, not %s", f.Status)
	}
	return nil
}

// list returns a page of transfers matching f and created before
// olderThan ago, and the cursor of the next page (0 if none). Filter has
// no age, so with olderThan it reads pages of the store's listing until
// it fills the page or the listing ends.
func list(ctx context.Context, svc *consolidate.Service, f consolidate.Filter, olderThan time.Duration) ([]consolidate.Transaction, int64, error) {
	if olderThan == 0 {
		txs, err := svc.List(ctx, f)
		if err != nil || len(txs) < f.Limit {
			return txs, 0, err
		}
		return txs, txs[len(txs)-1].ID, nil
	}
	cutoff := time.Now().Add(-olderThan)
	want := f.Limit
	f.Limit = maxPage
	var out []consolidate.Transaction
	for {
		page, err := svc.List(ctx, f)
		if err != nil {
			return nil, 0, err
		}
		for _, tx := range page {
			if !tx.CreatedAt.Before(cutoff) {
				continue
			}
			if out = append(out, tx); len(out) == want {
				return out, tx.ID, nil
			}
		}
		if len(page) < f.Limit {
			return out, 0, nil
		}
		f.Cursor = page[len(page)-1].ID
	}
}

func (c *cli) printListing(txs []consolidate.Transaction, next int64) error {
	if c.opts.json {
		l := listing{Transfers: make([]transferView, 0, len(txs)), NextCursor: next}
		for _, tx := range txs {
			l.Transfers = append(l.Transfers, newTransferView(tx))
		}
		return writeJSON(c.stdout, l)
	}
	if len(txs) == 0 {
		_, err := fmt.Fprintln(c.stdout, "no transfers")
		return err
	}
	now := time.Now()
	t := newTable(c.stdout, "ID", "ACCOUNT", "STATUS", "ASSET", "AMOUNT", "FEE", "NONCE", "CHECKS", "CREATED", "AGE", "HASH")
	for _, tx := range txs {
		t.row(strconv.FormatInt(tx.ID, 10), strconv.FormatInt(tx.AccountID, 10), string(tx.Status),
			asset(tx.Token), wei(tx.Amount), wei(tx.FeeTotal), strconv.FormatUint(tx.Nonce, 10), strconv.Itoa(tx.Checks),
			short(tx.CreatedAt), age(now, tx.CreatedAt), tx.Hash.Hex())
	}
	if err := t.flush(); err != nil {
		return err
	}
	if next > 0 {
		fmt.Fprintf(c.stderr, "more may follow: add -cursor %d\n", next)
	}
	return nil
}

// deadLetters is the dead-letters listing: parked transfers and, with
// -redis, the workers' queue's dead letters.
type deadLetters struct {
	Parked     []transferView `json:"parked"`
	NextCursor int64          `json:"next_cursor"`
	// Queue is nil without -redis: the CLI cannot see an in-process
	// queue.
	Queue []deadLetterView `json:"queue_dead_letters,omitempty"`
}

type deadLetterView struct {
	ID       string `json:"id"`
	Transfer int64  `json:"transfer,omitempty"`
	Reason   string `json:"reason"`
	Attempt  int    `json:"attempt"`
	At       string `json:"at"`
}

func runDeadLetters(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("dead-letters", "[flags]")
	limit := fs.Int("limit", 100, "page size, 1 to 1000")
	cursor := fs.Int64("cursor", 0, "continue a listing: the next_cursor of the previous page")
	if err := c.noArgs(fs, args); err != nil {
		return err
	}
	f := consolidate.Filter{Parked: true, Oldest: true, Cursor: *cursor, Limit: *limit}
	if err := checkFilter(f, 0); err != nil {
		return err
	}
	s, ctx, err := c.open(ctx, needs{})
	if err != nil {
		return err
	}
	defer s.close()
	txs, next, err := list(ctx, s.svc, f, 0)
	if err != nil {
		return err
	}
	out := deadLetters{Parked: make([]transferView, 0, len(txs)), NextCursor: next}
	for _, tx := range txs {
		v := newTransferView(tx)
		v.Parked = new(true)
		out.Parked = append(out.Parked, v)
	}
	if s.queue != nil {
		dls, err := s.queue.DeadLetters(ctx, c.opts.queue, maxPage)
		if err != nil {
			return fmt.Errorf("queue dead letters: %w", err)
		}
		out.Queue = make([]deadLetterView, 0, len(dls))
		for _, d := range dls {
			out.Queue = append(out.Queue, deadLetterView{ID: d.ID, Transfer: taskTransfer(d.ID), Reason: d.Reason, Attempt: d.Attempt, At: stamp(d.At)})
		}
	}
	if c.opts.json {
		return writeJSON(c.stdout, out)
	}
	return c.printDeadLetters(txs, out)
}

// taskTransfer is the transfer a reconcile task's ID names ("tx:<id>",
// as the Service builds them), or 0.
func taskTransfer(id string) int64 {
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "tx:"), 10, 64)
	if err != nil || !strings.HasPrefix(id, "tx:") {
		return 0
	}
	return n
}

func (c *cli) printDeadLetters(txs []consolidate.Transaction, out deadLetters) error {
	now := time.Now()
	if len(txs) == 0 {
		fmt.Fprintln(c.stdout, "no parked transfers")
	} else {
		t := newTable(c.stdout, "ID", "ACCOUNT", "AMOUNT (wei)", "FROM", "NONCE", "CHECKS", "NEXT CHECK", "CREATED", "AGE")
		for _, tx := range txs {
			t.row(strconv.FormatInt(tx.ID, 10), strconv.FormatInt(tx.AccountID, 10), wei(tx.Amount), tx.From.Hex(),
				strconv.FormatUint(tx.Nonce, 10), strconv.Itoa(tx.Checks), short(tx.NextCheckAt), short(tx.CreatedAt), age(now, tx.CreatedAt))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if out.NextCursor > 0 {
			fmt.Fprintf(c.stderr, "more may follow: add -cursor %d\n", out.NextCursor)
		}
	}
	if out.Queue == nil {
		return nil
	}
	fmt.Fprintf(c.stdout, "\nqueue %q dead letters: %d\n", c.opts.queue, len(out.Queue))
	if len(out.Queue) == 0 {
		return nil
	}
	t := newTable(c.stdout, "TASK", "ATTEMPT", "AT", "REASON")
	for _, d := range out.Queue {
		t.row(d.ID, strconv.Itoa(d.Attempt), d.At, d.Reason)
	}
	return t.flush()
}
