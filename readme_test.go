package consolidate_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/redis"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// The code between the README markers below is the README's "Wire it into
// a service" snippet, verbatim; TestReadmeSnippet keeps the two in step.

// README begin

func setup(ctx context.Context, key *ecdsa.PrivateKey, rdb goredis.UniversalClient) (*consolidate.Service, error) {
	store, err := sqlite.Open("ledger.db", nil) // WAL, synchronous=FULL, migrations applied
	if err != nil {
		return nil, err
	}
	ch, err := chain.Dial(ctx, "https://rpc.example.org", key, nil) // the service's hot wallet
	if err != nil {
		return nil, err
	}
	// A key kept outside the process: chain.DialWithSigner with a remote
	// signer (chain.DialRPCSigner: Clef, Web3Signer) or a KMS; see
	// docs/signers.md.
	svc, err := consolidate.New(store, ch, &consolidate.Config{
		// Omit Locker and Queue for in-process ones. Cache has no default:
		// without one, Get reads the store.
		Locker: redis.NewLocker(rdb, nil),
		Cache:  redis.NewCache(rdb, nil),
		Queue:  redis.NewQueue(rdb, nil),
	})
	if err != nil {
		return nil, err
	}
	go svc.Run(ctx) // reconcile workers, sweeper, event relay; run it in as many processes as you like
	return svc, nil
}

// submitHandler serves POST /transfers?account=1&to=0x…&amount=1000.
func submitHandler(svc *consolidate.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tx, err := submitForm(svc, r)
		if err != nil {
			status := httpStatus(err)
			http.Error(w, http.StatusText(status), status) // log err: its text may hold store internals
			return
		}
		w.Header().Set("Location", fmt.Sprintf("/transfers/%d", tx.ID)) // PENDING: svc.Get or svc.Wait tells the outcome
		w.WriteHeader(http.StatusCreated)
	}
}

func submitForm(svc *consolidate.Service, r *http.Request) (consolidate.Transaction, error) {
	account, err := strconv.ParseInt(r.FormValue("account"), 10, 64)
	if err != nil {
		return consolidate.Transaction{}, fmt.Errorf("%w: account", consolidate.ErrInvalidArgument)
	}
	to, err := consolidate.ParseAddress(r.FormValue("to")) // EIP-55 checked
	if err != nil {
		return consolidate.Transaction{}, err
	}
	amount, err := consolidate.ParseAmount(r.FormValue("amount")) // exact wei, never a float
	if err != nil {
		return consolidate.Transaction{}, err
	}
	return svc.Submit(r.Context(), consolidate.SubmitRequest{
		AccountID: account, To: to, Amount: amount,
		IdempotencyKey: r.Header.Get("Idempotency-Key"), // same key and request: the first answer again
	})
}

// httpStatus maps every error of Submit, Get, Wait, Credit, Account and
// CreateAccount to an HTTP status.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, consolidate.ErrNotFound): // no such account or transaction
		return http.StatusNotFound
	case errors.Is(err, consolidate.ErrAccountLocked): // another submit for the account is under way
		return http.StatusConflict
	case errors.Is(err, consolidate.ErrInsufficientFunds), // refused, nothing changed
		errors.Is(err, consolidate.ErrIdempotencyConflict),
		errors.Is(err, consolidate.ErrInvalidAddress),
		errors.Is(err, consolidate.ErrInvalidAmount),
		errors.Is(err, consolidate.ErrSelfTransfer),
		errors.Is(err, consolidate.ErrInvalidReference),
		errors.Is(err, consolidate.ErrInvalidArgument):
		return http.StatusUnprocessableEntity
	case errors.Is(err, consolidate.ErrLockUnavailable), // a backend is down or slow: retry
		errors.Is(err, consolidate.ErrFeeTooHigh), // network fees above chain.Options.MaxFeePerGas
		errors.Is(err, consolidate.ErrClosed),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	default: // the store or the node failed: transient, retry
		return http.StatusInternalServerError
	}
}

// README end

var _ = setup // compiled, not run: it dials a real node and Redis

// TestReadmeSnippet checks that the README's Go snippet is the code above,
// so the snippet compiles and is what TestReadmeHandler exercises.
func TestReadmeSnippet(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)// README begin\n\n(.*?)\n// README end").FindSubmatch(self)
	if m == nil {
		t.Fatal("no README markers in readme_test.go")
	}
	code := bytes.TrimSpace(m[1])
	if !bytes.Contains(readme, code) {
		t.Errorf("README.md does not hold the code between the README markers of readme_test.go verbatim:\n%s", code)
	}
}

// TestReadmeHandler drives the README's handler through a real Service and
// checks the status each refusal maps to.
func TestReadmeHandler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sim := chaintest.NewT(t, nil)
	ch, err := sim.NewChain(nil)
	if err != nil {
		t.Fatal(err)
	}
	locker := consolidate.NewMemoryLocker()
	svc, err := consolidate.New(store, ch, &consolidate.Config{Locker: locker, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := svc.CreateAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Credit(ctx, acct.ID, ether(1), "deposit-1"); err != nil {
		t.Fatal(err)
	}
	locked, err := svc.CreateAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := locker.Lock(ctx, fmt.Sprintf("account:%d", locked.ID), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lease.Unlock(ctx) })

	h := submitHandler(svc)
	to := recipient.Hex()
	for _, c := range []struct {
		name, account, to, amount, key string
		want                           int
	}{
		{"accepted", fmt.Sprint(acct.ID), to, "1000", "k1", http.StatusCreated},
		{"repeated key", fmt.Sprint(acct.ID), to, "1000", "k1", http.StatusCreated},
		{"key with another request", fmt.Sprint(acct.ID), to, "2000", "k1", http.StatusUnprocessableEntity},
		{"unknown account", "999", to, "1000", "", http.StatusNotFound},
		{"account not a number", "one", to, "1000", "", http.StatusUnprocessableEntity},
		{"bad address", fmt.Sprint(acct.ID), "0x12", "1000", "", http.StatusUnprocessableEntity},
		{"zero amount", fmt.Sprint(acct.ID), to, "0", "", http.StatusUnprocessableEntity},
		{"self transfer", fmt.Sprint(acct.ID), sim.Sender().Hex(), "1000", "", http.StatusUnprocessableEntity},
		{"bad key", fmt.Sprint(acct.ID), to, "1000", "a b", http.StatusUnprocessableEntity},
		{"insufficient funds", fmt.Sprint(acct.ID), to, "2000000000000000000", "", http.StatusUnprocessableEntity},
		{"account locked", fmt.Sprint(locked.ID), to, "1000", "", http.StatusConflict},
	} {
		q := url.Values{"account": {c.account}, "to": {c.to}, "amount": {c.amount}}
		r := httptest.NewRequest("POST", "/transfers?"+q.Encode(), nil)
		if c.key != "" {
			r.Header.Set("Idempotency-Key", c.key)
		}
		w := httptest.NewRecorder()
		h(w, r)
		if w.Code != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, w.Code, c.want, strings.TrimSpace(w.Body.String()))
		}
	}

	_, err = svc.Get(ctx, 12345)
	if got := httpStatus(err); got != http.StatusNotFound {
		t.Errorf("Get of an unknown transaction: %d (%v), want 404", got, err)
	}
	_, err = svc.Credit(ctx, acct.ID, ether(2), "deposit-1")
	if got := httpStatus(err); got != http.StatusUnprocessableEntity {
		t.Errorf("Credit reusing a reference: %d (%v), want 422", got, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = svc.Account(cancelled, acct.ID)
	if got := httpStatus(err); got != http.StatusServiceUnavailable {
		t.Errorf("Account with a cancelled context: %d (%v), want 503", got, err)
	}
}

// TestHTTPStatusSentinels checks every sentinel a caller of the Service's
// request methods can meet, wrapped as the Service wraps them.
func TestHTTPStatusSentinels(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]int{
		consolidate.ErrNotFound:            404,
		consolidate.ErrAccountLocked:       409,
		consolidate.ErrInsufficientFunds:   422,
		consolidate.ErrIdempotencyConflict: 422,
		consolidate.ErrInvalidAddress:      422,
		consolidate.ErrInvalidAmount:       422,
		consolidate.ErrSelfTransfer:        422,
		consolidate.ErrInvalidReference:    422,
		consolidate.ErrInvalidArgument:     422,
		consolidate.ErrLockUnavailable:     503,
		consolidate.ErrFeeTooHigh:          503,
		consolidate.ErrClosed:              503,
		context.DeadlineExceeded:           503,
		context.Canceled:                   503,
		errors.New("disk I/O error"):       500,
	} {
		if got := httpStatus(fmt.Errorf("consolidate: sqlite: submit: %w", err)); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}
