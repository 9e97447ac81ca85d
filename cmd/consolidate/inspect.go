package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
)

func runMigrate(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("migrate", "[flags]")
	if err := c.noArgs(fs, args); err != nil {
		return err
	}
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	l, err := c.openLedger(ctx, true)
	if err != nil {
		return err
	}
	defer l.close()
	v, err := l.schemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if c.opts.json {
		return writeJSON(c.stdout, struct {
			Store         string `json:"store"`
			Where         string `json:"where"`
			SchemaVersion int    `json:"schema_version"`
		}{l.kind, l.where, v})
	}
	_, err = fmt.Fprintf(c.stdout, "%s ledger %s is at schema version %d\n", l.kind, l.where, v)
	return err
}

func runAccount(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("account", "[flags] <id>")
	id, err := c.oneID(fs, args, "account")
	if err != nil {
		return err
	}
	s, ctx, err := c.open(ctx, needs{})
	if err != nil {
		return err
	}
	defer s.close()
	a, err := s.svc.Account(ctx, id)
	if err != nil {
		return notFound(err, "account", id)
	}
	v := newAccountView(a)
	if c.opts.json {
		return writeJSON(c.stdout, v)
	}
	return pairs(c.stdout,
		"account", strconv.FormatInt(v.ID, 10),
		"available", v.Available+" "+unit(v.Token),
		"current", v.Current+" "+unit(v.Token),
		"held", v.Held+" "+unit(v.Token),
		"created", short(a.CreatedAt),
		"updated", short(a.UpdatedAt))
}

var hashPattern = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)

func runTransfer(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("transfer", "[flags] <id> | -hash 0x…")
	hash := fs.String("hash", "", "find the transfer by the hash of any of its attempts instead of its ID")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	var id int64
	switch {
	case *hash != "" && len(pos) == 0:
		if !hashPattern.MatchString(*hash) {
			return usagef("-hash %q is not 0x and 64 hex digits", *hash)
		}
	case *hash == "" && len(pos) == 1:
		if id, err = parseID("transfer", pos[0]); err != nil {
			return err
		}
	default:
		return usagef("transfer takes a transfer ID or -hash 0x…, one of them")
	}
	if err := c.resolve(); err != nil {
		return err
	}
	s, ctx, err := c.open(ctx, needs{})
	if err != nil {
		return err
	}
	defer s.close()
	if *hash != "" {
		if id, err = s.transferByHash(ctx, common.HexToHash(*hash)); err != nil {
			return err
		}
	}
	tx, err := s.svc.Get(ctx, id)
	if err != nil {
		return notFound(err, "transfer", id)
	}
	attempts, err := s.store.Attempts(ctx, id)
	if err != nil {
		return err
	}
	v := newTransferView(tx)
	if tx.Status == consolidate.StatusPending {
		p, err := isParked(ctx, s.svc, id)
		if err != nil {
			return err
		}
		v.Parked = &p
	}
	for _, a := range attempts {
		v.Attempts = append(v.Attempts, newAttemptView(a))
	}
	if c.opts.json {
		return writeJSON(c.stdout, v)
	}
	return printTransfer(c, tx, v, attempts)
}

func printTransfer(c *cli, tx consolidate.Transaction, v transferView, attempts []consolidate.Attempt) error {
	status := v.Status
	if v.Parked != nil && *v.Parked {
		status += " (parked: check budget spent, checked again on the slow schedule)"
	}
	block := "-"
	if v.BlockNumber > 0 {
		block = strconv.FormatUint(v.BlockNumber, 10) + " " + v.BlockHash
	}
	fee := "-"
	if v.FeeBlockchain != "" {
		fee = v.FeeBlockchain + " wei"
	}
	if err := pairs(c.stdout,
		"transfer", strconv.FormatInt(v.ID, 10),
		"account", strconv.FormatInt(v.AccountID, 10),
		"status", status,
		"from", v.From,
		"to", v.To,
		"amount", v.Amount+" "+unit(v.Token),
		"fee charged", v.FeeTotal+" "+unit(v.Token),
		"fee on chain", fee,
		"nonce", strconv.FormatUint(v.Nonce, 10),
		"hash", v.Hash,
		"block", block,
		"checks", strconv.Itoa(v.Checks),
		"next check", short(tx.NextCheckAt),
		"idempotency key", dash(v.IdempotencyKey),
		"created", short(tx.CreatedAt),
		"updated", short(tx.UpdatedAt),
	); err != nil {
		return err
	}
	if len(v.Attempts) == 0 {
		return nil
	}
	fmt.Fprintf(c.stdout, "\nattempts:\n")
	t := newTable(c.stdout, "HASH", "KIND", "TIP CAP", "FEE CAP", "CREATED")
	for i, a := range v.Attempts {
		kind := "bump"
		switch {
		case a.Cancel:
			kind = "cancel"
		case i == 0:
			kind = "original"
		}
		t.row(a.Hash, kind, dash(a.GasTipCap), dash(a.GasFeeCap), short(attempts[i].CreatedAt))
	}
	return t.flush()
}

// isParked reports whether the PENDING transfer id is parked. Transaction
// does not carry the mark; a one-row listing of parked transfers from id
// down finds it.
func isParked(ctx context.Context, svc *consolidate.Service, id int64) (bool, error) {
	txs, err := svc.List(ctx, consolidate.Filter{Parked: true, Cursor: id + 1, Limit: 1})
	if err != nil {
		return false, err
	}
	return len(txs) == 1 && txs[0].ID == id, nil
}

// notFound restates the library's ErrNotFound for the command line.
func notFound(err error, what string, id int64) error {
	if errors.Is(err, consolidate.ErrNotFound) {
		return &notFoundError{msg: fmt.Sprintf("%s %d not found", what, id), err: err}
	}
	return err
}

// notFoundError says what was not found, once, and wraps ErrNotFound.
type notFoundError struct {
	msg string
	err error
}

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return e.err }

// oneID parses the command line of a command whose only argument is an
// ID, and resolves the options.
func (c *cli) oneID(fs *flag.FlagSet, args []string, what string) (int64, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return 0, err
	}
	if len(pos) != 1 {
		return 0, usagef("%s takes one %s ID, got %d arguments", fs.Name(), what, len(pos))
	}
	id, err := parseID(what, pos[0])
	if err != nil {
		return 0, err
	}
	return id, c.resolve()
}

// noArgs parses the command line of a command without arguments, and
// resolves the options.
func (c *cli) noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("%s takes no arguments, got %q", fs.Name(), pos)
	}
	return c.resolve()
}

func parseID(what, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%s ID %q is not a positive integer", what, s)
	}
	return id, nil
}
