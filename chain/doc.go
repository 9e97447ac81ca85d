// Package chain implements consolidate.Chain on go-ethereum's ethclient:
// one sending wallet on one EIP-1559 network, reached over JSON-RPC.
//
// # Signing
//
// Sign builds an EIP-1559 (type 2) transfer with no data and signs it for
// the configured chain ID. It does no I/O and is deterministic, so the
// same inputs always give the same hash and bytes. Quote prices it: a
// fixed gas limit (larger when the recipient has code), the node's
// suggested tip, and a fee cap of twice the latest base fee plus the tip,
// bounded by Options.MaxFeePerGas.
//
// # Fee bumps and cancels
//
// A transfer that waits too long is replaced, never forgotten: every
// attempt signed for a nonce may still be the one included, so each is
// persisted before it is sent. Bump prices the next attempt from the last
// one's quote: tip and fee cap each at least 10 % higher (what nodes
// require to replace a pending transaction) and at least what the network
// asks now, within Options.MaxFeePerGas. Sign with that quote re-sends the
// transfer; SignCancel with it signs a zero-value transfer from the wallet
// to itself that, once included, consumes the nonce so that no attempt of
// the transfer can land.
//
// # Broadcasting
//
// Broadcast sends the signed bytes. Sending bytes the node already holds
// is success, so a caller that persisted the bytes may resend them at any
// time. The node's refusals are told apart by their message text, which
// is all JSON-RPC carries; the strings are go-ethereum's:
//
//   - consolidate.ErrRejected: the bytes can never be included (bad
//     signature or chain ID, gas limit below the intrinsic cost or above
//     the cap, a fee above the node's RPC fee cap, malformed bytes).
//   - ErrNonceTooLow: the nonce is used. Either these bytes were mined
//     (Statuses finds them) or another transaction took the nonce.
//   - ErrUnderpriced, ErrWalletUnderfunded: the node will not take the
//     bytes now; they may be taken later, or replaced by a new attempt.
//   - anything else, including network errors: may be transient.
//
// ErrNonceTooLow, ErrUnderpriced, ErrWalletUnderfunded and ErrFeeTooHigh
// are the consolidate package's sentinels of the same names, so errors.Is
// matches either spelling.
//
// # Status and finality
//
// Statuses reads each receipt and checks that the header at its block
// number still has its block hash, so a receipt from a block a reorg
// removed is not reported as mined; a transaction without a usable
// receipt is pending if the node's mempool holds it, else unknown. A mined
// transaction is final when its block is at or below the node's finalized
// block, or at least Options.Confirmations blocks deep (the block holding
// it counts as one). A node without a finalized block (before the merge,
// or one that does not know the tag) leaves depth to decide alone. Fee is
// gasUsed × effectiveGasPrice from the receipt. Status is Statuses of one
// hash.
//
// FinalizedNonce applies the same rule to the wallet: its nonce at the
// newest final block. Every nonce below it is used for good, by whichever
// attempt was included.
//
// Over JSON-RPC (a client implementing RPCClient, such as the one Dial
// opens) Statuses sends its reads as batch calls: the receipts with the
// head and finalized blocks in one, the headers and mempool lookups they
// call for in a second, and a third only when a receipt turns out to be
// from a block no longer canonical. A batch holds at most 100 calls, so
// longer lists take more round trips. Other clients, such as the
// simulated backend's, are asked one call at a time, with the same
// results.
//
// # ERC-20 tokens
//
// SignToken signs a call of transfer(to, amount) on a token contract
// (value zero, calldata from TransferData) and checks a remote signer's
// answer as Sign does. QuoteToken prices it from eth_estimateGas plus
// 25 %. TokenBalance and TokenInfo read the wallet's balance, symbol and
// decimals with eth_call; an address that does not answer as a token gives
// ErrNotToken. A mined, successful transaction does not prove tokens
// moved: some tokens return false without reverting and some take a fee.
// TokenTransfers reads the Transfer events of a receipt's logs; the one to
// the recipient says what it received.
//
// # Limits
//
//   - The Chain keeps no state: it does not track nonces, pending
//     transactions or fee bumps. The caller allocates nonces, persists
//     every signed attempt and asks Bump for a replacement when it wants
//     one.
//   - Statuses answers for all hashes or none: if the node's answer about
//     one of them is an error or inconsistent (an index still being
//     built, a reorg half applied), the whole call fails and is best
//     repeated later.
//   - Depth-based finality is a policy, not a guarantee: a reorg deeper
//     than Options.Confirmations can still remove a block counted final.
//     Trust only the finalized block by setting Confirmations to
//     math.MaxUint64.
//   - Error matching follows go-ethereum's messages. Other clients are
//     understood where they use the same words; an unrecognized refusal is
//     reported as transient, never as ErrRejected.
//   - Only ether transfers and ERC-20 transfer calls are built: no other
//     calldata, access lists or blob transactions.
package chain
