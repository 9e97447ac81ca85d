// Package httpapi serves a consolidate.Service over HTTP with JSON bodies,
// in the vocabulary of a wallet backend: user accounts, public addresses,
// amounts "in wei".
//
//	svc, err := consolidate.New(store, chain, nil)
//	h, err := httpapi.New(svc, nil)
//	http.ListenAndServe("127.0.0.1:8080", h)
//
// # Amounts
//
// Every amount is wei, written as a decimal string ("1000000000000000000"),
// up to 2^256-1. A request may also send an amount as a JSON number, but
// only written as a plain non-negative integer: 1000000000000000000 is
// accepted, 1e18, 1.0, 1.5 and -1 are not. The number's digits are read
// as written, never through a float. Responses always use strings.
//
// # Routes
//
// POST /transactions submits a transfer from the service's wallet, paid
// for by an account:
//
//	{"user_account_id": 1, "to_public_address": "0x…", "transaction_amount_in_wei": "1000000000000000000", "idempotency_key": "order-42"}
//
// idempotency_key is optional; with one, repeating the request returns the
// original transaction (or the original rejection). The key may instead be
// sent as the Idempotency-Key header; it is the same key either way, and a
// request with both must give the same value in each (otherwise 422
// idempotency_conflict, and nothing changes). The answer is 201 with the
// transaction, PENDING, and a Location header:
//
//	{"id": 7, "user_account_id": 1, "transaction_hash": "0x…",
//	 "from_public_address": "0x…", "to_public_address": "0x…",
//	 "transaction_amount_in_wei": "1000000000000000000",
//	 "transaction_fee_total_in_wei": "50000000000000",
//	 "transaction_fee_blockchain_in_wei": null,
//	 "asset": {"symbol": "ETH", "decimals": 18, "token_address": null},
//	 "status": "PENDING",
//	 "idempotency_key": "order-42", "created_at": "…", "updated_at": "…"}
//
// With a wallet that signs through a remote signer or a KMS, the transfer
// is reserved first and signed before the answer; if the signer does not
// answer in time, the answer is still 201 with the transfer PENDING and
// transaction_hash null: the funds are held, the request is durable (do
// not repeat it without its idempotency key), and the transfer is signed
// and sent in the background. GET /transactions/{id} shows the hash once
// it is signed.
//
// transaction_fee_total_in_wei is what the account is charged on top of the
// amount; transaction_fee_blockchain_in_wei is what the chain took, null
// until the transfer is mined and final. status is PENDING, SUCCESSFUL or
// FAILED.
//
// An account holds ether or one ERC-20 token (see POST /accounts), and its
// transfers move that asset, named by asset: its symbol, its decimals, and
// its contract address (null for ether). Amounts and balances are in the
// asset's smallest unit, wei for ether; the field names say wei, as they
// did before tokens. transaction_fee_blockchain_in_wei is always wei, paid
// by the service's wallet. A token transfer the wallets cannot cover is
// 503 wallet_underfunded, and nothing is stored.
//
// GET /transactions/{id} returns one transaction (200), or 404.
//
// GET /accounts/{id} returns an account's balances:
//
//	{"id": 1, "asset": {…}, "available_balance_in_wei": "…", "current_balance_in_wei": "…"}
//
// available is what the account may spend now; current is what has
// settled. Their difference is held by PENDING transfers.
//
// GET /accounts/{id}/transactions?limit=&before= lists the account's
// transactions newest first: limit (1 to 1000, default Options.PageSize)
// of those with an id below before (default: the newest). The answer is
// {"transactions": […], "next_before": 42}; pass next_before as before to
// get the next, older page. next_before is null when the page was not full.
//
// # Operator routes
//
// These move money into accounts, so they are served only by an Operator
// (NewOperator), mounted with Options.Operator, never by default, and only
// to requests with the operator's credentials: a bearer token or a
// verified client certificate (401 without, 403 with wrong ones). The
// Operator also serves the operator API under /operator/ (transfers by
// status and age, dead letters, requeue, cancel, wallets, overview) and a
// status page; docs/operator.md in the repository describes them, the
// credentials and the CSRF defences of the page.
//
// POST /accounts creates an account, optionally with a first deposit:
// {"deposit_in_wei": "…"} (or {}), and "token_address": "0x…" to open it in
// one of the service's tokens rather than ether (422 unknown_token for
// another). The answer is 201 with the account. The
// deposit is credited with the reference "initial-deposit"; should that
// fail after the account was created, the error is returned and the empty
// account remains. With an Idempotency-Key header the request is safe to
// repeat: a retry answers with the account the key opened, as it stands,
// and credits the deposit once (a retry with another deposit amount is
// 422 idempotency_conflict). Without one, each request opens an account.
//
// POST /accounts/{id}/deposits credits a deposit:
// {"amount_in_wei": "…", "reference": "bank-transfer-981"}. The reference
// (1 to 255 printable ASCII characters without spaces, unique per account) makes it
// idempotent: repeating it changes nothing and answers 200 with the account
// again; the same reference with another amount is 422
// idempotency_conflict. Instead of the reference, the request may send an
// Idempotency-Key header (up to 239 characters); the deposit is then
// credited under the reference "idempotency-key:" followed by the key.
// References starting with "idempotency-key:" are refused in the body, so
// a key and a reference of the same text are two different deposits and
// neither can replay the other; keep to one form when retrying. Sent with
// a reference, the header must equal it (otherwise 422
// idempotency_conflict), and the reference is used as given.
//
// # Errors
//
// Every error is answered with a JSON body
//
//	{"error": {"code": "insufficient_funds", "message": "…"}}
//
// where code is stable and meant for programs, message for people.
//
//	400 malformed_json          the body is empty, not JSON, not one object, has a field twice, or data after it
//	400 unknown_field           the body has a field the route does not take
//	404 not_found               no such transaction, account (also the user_account_id of a submit) or route
//	405 method_not_allowed      the route exists for other methods (see Allow)
//	409 account_locked          another submit for the account is under way; retry shortly (Retry-After)
//	413 body_too_large          the body is above Options.MaxBodyBytes (64 KiB by default)
//	415 unsupported_media_type  the Content-Type is not application/json
//	422 invalid_field           a required field is missing or has the wrong JSON type (an amount of any type but a string or an exact number is invalid_amount)
//	422 invalid_address         to_public_address is malformed, fails its EIP-55 checksum, or is the zero address
//	422 invalid_amount          an amount is not a positive integer up to 2^256-1 (with the fee, for a transfer)
//	422 self_transfer           the recipient is the service's own wallet
//	422 invalid_reference       an idempotency key or deposit reference is empty, too long, or not printable ASCII without spaces; Idempotency-Key sent twice; a body reference starting with "idempotency-key:"
//	422 invalid_parameter       limit or before of a listing is out of range
//	422 insufficient_funds      the available balance does not cover amount plus fee
//	422 idempotency_conflict    the idempotency key or deposit reference was used with a different request, or the Idempotency-Key header differs from the body's key or reference
//	422 unknown_token           token_address is not a token the service is configured with
//	422 wrong_asset             the account holds another asset than the store was asked to move
//	422 would_revert            the chain says the transfer would fail (a paused token, a recipient the token refuses); nothing is stored
//	503 unavailable             the lock backend is down or the request timed out; retry (Retry-After)
//	503 wallet_underfunded      no wallet of the service holds enough of the token now; nothing is stored
//	500 internal                a fault on the server side; logged, never caused by input alone
//
// Insufficient funds is 422, not 402. 402 Payment Required is reserved by
// RFC 9110 with no defined semantics, and generic clients and proxies treat
// it unpredictably; the request is well-formed but cannot be carried out
// against the account's current state, which is what 422 says. The code
// insufficient_funds tells it apart from invalid input.
//
// An account id in a path that is not a positive decimal integer is 404:
// it names nothing that can exist. Nothing any client sends produces a 500.
package httpapi
