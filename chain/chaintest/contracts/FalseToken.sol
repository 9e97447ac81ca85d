// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Token.sol";

/// @title FalseToken: an ERC-20 that fails quietly.
/// @notice A transfer beyond the sender's balance or allowance returns
/// false instead of reverting, changes nothing and emits no event, as some
/// early tokens do. The transaction itself succeeds (receipt status 1).
contract FalseToken is Token {
    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 supply)
        Token(name_, symbol_, decimals_, supply)
    {}

    function _refuse(string memory) internal pure override returns (bool) {
        return false;
    }
}
