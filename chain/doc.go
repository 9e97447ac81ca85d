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
//     (Status finds them) or another transaction took the nonce.
//   - ErrUnderpriced, ErrWalletUnderfunded: the node will not take the
//     bytes now; they may be taken later, or replaced by a new attempt.
//   - anything else, including network errors: may be transient.
//
// # Status and finality
//
// Status reads the receipt and checks that the header at its block number
// still has its block hash, so a receipt from a block a reorg removed is
// not reported as mined. A mined transaction is final when its block is at
// or below the node's finalized block, or at least Options.Confirmations
// blocks deep (the block holding it counts as one). A node without a
// finalized block (before the merge, or a dev chain) leaves depth to
// decide alone. Fee is gasUsed × effectiveGasPrice from the receipt.
//
// # Limits
//
//   - The Chain keeps no state: it does not track nonces, pending
//     transactions or fee bumps. The caller allocates nonces, persists
//     the signed bytes and re-signs with higher fees when it wants to.
//   - Depth-based finality is a policy, not a guarantee: a reorg deeper
//     than Options.Confirmations can still remove a block counted final.
//     Trust only the finalized block by setting Confirmations to
//     math.MaxUint64.
//   - Error matching follows go-ethereum's messages. Other clients are
//     understood where they use the same words; an unrecognized refusal is
//     reported as transient, never as ErrRejected.
//   - Only plain value transfers are built: no calldata, access lists or
//     blob transactions.
package chain
