// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Token.sol";

/// @title FeeToken: an ERC-20 that takes a fee on transfer.
/// @notice Every transfer burns 1 % of the amount (rounded down): the
/// recipient receives, and the Transfer event to it carries, the amount
/// less the fee. A second Transfer event, to the zero address, carries the
/// fee when it is not zero. Minting takes no fee.
contract FeeToken is Token {
    uint256 public constant FEE_PERCENT = 1;

    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 supply)
        Token(name_, symbol_, decimals_, supply)
    {}

    function _move(address from, address to, uint256 amount) internal override {
        uint256 fee = (amount * FEE_PERCENT) / 100;
        balanceOf[from] -= amount;
        balanceOf[to] += amount - fee;
        emit Transfer(from, to, amount - fee);
        if (fee > 0) {
            totalSupply -= fee;
            emit Transfer(from, address(0), fee);
        }
    }
}
