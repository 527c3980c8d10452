"""Signer recovery through coincurve equals eth_account's EIP-712 recovery (issue 12, item 7).

The reference is ``eth_account.Account.recover_message`` on the same version-0x01 (EIP-712)
message, which the server used before; both must agree on every signature it accepts, including
the high-s twin of a signature (neither library refuses it on recovery).
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import SignableMessage
from eth_utils.crypto import keccak

from netclear.api.auth import BadSignature, _recover

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1 group order (SEC 2)


@pytest.mark.parametrize("seed", range(8))
def test_recovery_matches_eth_account(seed: int) -> None:
    key = keccak(text=f"netclear-recover-{seed}")
    domain, struct_hash = keccak(text=f"domain-{seed}"), keccak(text=f"struct-{seed}")
    message = SignableMessage(version=b"\x01", header=domain, body=struct_hash)
    signed = Account.sign_message(message, key)
    address = Account.from_key(key).address.lower()
    vrs = (signed.v, signed.r, signed.s)
    assert _recover(domain, struct_hash, vrs) == address
    twin = (55 - signed.v, signed.r, N - signed.s)  # (r, n - s) with the other parity: same signer
    assert _recover(domain, struct_hash, twin) == str(Account.recover_message(message, vrs=twin)).lower()
    assert _recover(domain, struct_hash, twin) == address
    # a different message recovers some other address, as in eth_account
    other = keccak(text="other")
    assert (
        _recover(domain, other, vrs)
        == str(Account.recover_message(SignableMessage(b"\x01", domain, other), vrs=vrs)).lower()
    )
    assert _recover(domain, other, vrs) != address


def test_r_off_the_curve_is_a_bad_signature() -> None:
    # x = 5: 5**3 + 7 = 132 is not a square mod p, so no curve point has it (Euler's criterion)
    p = 2**256 - 2**32 - 977
    assert pow(132, (p - 1) // 2, p) == p - 1
    with pytest.raises(BadSignature) as info:
        _recover(bytes(32), bytes(32), (27, 5, 1))
    assert info.value.field == "signature"
