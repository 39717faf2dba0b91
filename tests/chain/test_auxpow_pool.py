"""Playing a Bitcoin pool: build the coinbase commitment (alone and in a multi-chain tree beside
chain IDs 1 and 98), grind a parent header to our target, and check the block on regtest params."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hashgrad.chain.auxpow import (
    MERGED_MINING_HEADER,
    build_aux_coinbase_script,
    build_aux_merkle_tree,
    build_auxpow,
    build_parent_coinbase,
    check_auxpow,
    check_block_proof,
    compute_expected_index,
    parse_auxpow,
)
from hashgrad.chain.hashes import sha256
from hashgrad.chain.header import VERSION_AUXPOW, BlockHeader
from hashgrad.chain.params import HASHGRAD_CHAIN_ID, HASHGRAD_REGTEST
from hashgrad.errors import HeaderError
from support.auxpow import EASY_BITS, build_pool_auxpow, grind_header, make_child_header, script_of

OTHER_CHAINS = {1: sha256(b"namecoin block"), 98: sha256(b"dogecoin block")}
TREE_HEIGHT = 5  # 4242 and 98 agree mod 16: they only get distinct slots from 32 leaves up


def reason_of(call, *args, **kwargs) -> str:
    with pytest.raises(HeaderError) as info:
        call(*args, **kwargs)
    return info.value.reason


def check_on_regtest(header, auxpow, height: int = 1) -> None:
    check_block_proof(header, auxpow, HASHGRAD_REGTEST, height)


def test_pool_single_chain_accepted():
    child = make_child_header()
    auxpow = build_pool_auxpow(child)
    assert script_of(auxpow).find(MERGED_MINING_HEADER + child.hash[::-1] + b"\x01\x00\x00\x00") == 4
    check_on_regtest(child, auxpow)
    check_on_regtest(child, parse_auxpow(auxpow.serialize()))  # and after a trip through bytes


def test_pool_multi_chain_accepted():
    child = make_child_header()
    nonce = 0xF09F909F
    auxpow = build_pool_auxpow(child, OTHER_CHAINS, TREE_HEIGHT, nonce)
    assert len(auxpow.chain_branch) == TREE_HEIGHT
    assert auxpow.chain_index == compute_expected_index(nonce, HASHGRAD_CHAIN_ID, TREE_HEIGHT)
    check_on_regtest(child, auxpow)


def test_pool_multi_chain_other_chains_verify_too():
    """The same parent work proves the Namecoin leaf for chain ID 1 (what Namecoin would check)."""
    child = make_child_header()
    namecoin_child = make_child_header(chain_id=1, tag=b"nmc")
    others = {1: namecoin_child.hash, 98: OTHER_CHAINS[98]}
    ours = build_pool_auxpow(child, others, TREE_HEIGHT, 42)
    tree = build_aux_merkle_tree({HASHGRAD_CHAIN_ID: child.hash, **others}, TREE_HEIGHT, 42)
    theirs = replace(ours, chain_branch=tree.branches[1], chain_index=tree.slots[1])
    check_auxpow(theirs, namecoin_child.hash, 1)
    assert reason_of(check_auxpow, theirs, child.hash, HASHGRAD_CHAIN_ID) == "auxpow-missing-root"


def test_invalid_pool_our_slot_wrong():
    child = make_child_header()
    decoy = 4243  # a chain ID whose slot is not ours: our hash sits there, the root still matches
    assert compute_expected_index(0, decoy, TREE_HEIGHT) != compute_expected_index(0, HASHGRAD_CHAIN_ID, TREE_HEIGHT)
    auxpow = build_pool_auxpow(child, OTHER_CHAINS, TREE_HEIGHT, 0, slot_of=decoy)
    assert reason_of(check_on_regtest, child, auxpow) == "auxpow-wrong-index"


def test_invalid_pool_tree_size_not_matching_branch():
    child = make_child_header()
    auxpow = build_pool_auxpow(child, OTHER_CHAINS, TREE_HEIGHT, 0)
    short = replace(auxpow, chain_branch=auxpow.chain_branch[:-1])
    assert reason_of(check_on_regtest, child, short) == "auxpow-missing-root"


def test_invalid_pool_parent_pow_too_weak():
    child = make_child_header(bits=0x1D00FFFF)  # Bitcoin's difficulty 1: an ungrindable target here
    auxpow = build_pool_auxpow(child, grind=False)
    assert reason_of(check_on_regtest, child, auxpow) == "high-hash"
    check_auxpow(auxpow, child.hash, HASHGRAD_CHAIN_ID)  # the commitment itself is sound


def test_invalid_pool_parent_with_our_chain_id():
    child = make_child_header()
    auxpow = build_pool_auxpow(child, parent_version=(HASHGRAD_CHAIN_ID << 16) | 4)
    assert reason_of(check_on_regtest, child, auxpow) == "auxpow-parent-chain-id"


def test_invalid_pool_parent_with_auxpow_flag():
    child = make_child_header()
    auxpow = build_pool_auxpow(child, parent_version=0x20000000 | VERSION_AUXPOW)
    assert reason_of(check_on_regtest, child, auxpow) == "auxpow-parent-has-auxpow"


# The pool's scriptSig: [0:4] height push | [4:8] magic | [8:40] root | [40:44] size | [44:48] nonce | tag
@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda s: s[:4] + b"\x00" + s[4:], None),  # extranonce bytes before the magic are fine
        (lambda s: s + MERGED_MINING_HEADER, "auxpow-multiple-headers"),
        (lambda s: s[:4] + MERGED_MINING_HEADER + b"\x00" + s[8:], "auxpow-header-not-before-root"),
        (lambda s: s[:4] + s[8:], None),  # no magic (legacy form): root at byte 4
        (lambda s: s[:4] + b"\x00" * 16 + s[8:], None),  # no magic: root at byte 20, the last allowed
        (lambda s: s[:4] + b"\x00" * 17 + s[8:], "auxpow-root-too-late"),  # no magic: root at byte 21
        (lambda s: s[:47], "auxpow-missing-size-nonce"),
        (lambda s: s[:40] + b"\x02" + s[41:], "auxpow-wrong-size"),
        (lambda s: s[:4], "auxpow-missing-root"),
    ],
)
def test_pool_script_rules(edit, reason):
    child = make_child_header()
    auxpow = build_pool_auxpow(child, edit_script=edit)
    if reason is None:
        check_on_regtest(child, auxpow)
    else:
        assert reason_of(check_on_regtest, child, auxpow) == reason


def test_check_block_proof_activation_and_own_pow():
    child = make_child_header()
    auxpow = build_pool_auxpow(child)
    later = replace(HASHGRAD_REGTEST, auxpow_start_height=10)
    assert reason_of(check_block_proof, child, auxpow, later, 9) == "auxpow-before-start"
    check_block_proof(child, auxpow, later, 10)
    plain = grind_header(make_child_header(auxpow_flag=False, tag=b"plain"), EASY_BITS)
    check_block_proof(plain, None, later, 9)
    assert reason_of(check_block_proof, plain, None, replace(later, allow_own_pow=False), 9) == "own-pow-not-allowed"


def test_invalid_block_without_our_chain_id():
    child = make_child_header(chain_id=1)
    auxpow = build_pool_auxpow(child)
    assert reason_of(check_on_regtest, child, auxpow) == "bad-chain-id"
    check_block_proof(child, auxpow, HASHGRAD_REGTEST, 1, strict_chain_id=False)


def test_check_auxpow_block_proof_through_header_validation():
    """The ledger's header checklist (chain/validation.py) delegates its merge-mined branch here."""
    from hashgrad.chain.validation import check_header_proof

    child = make_child_header()
    auxpow = build_pool_auxpow(child, OTHER_CHAINS, TREE_HEIGHT, 3)
    check_header_proof(HASHGRAD_REGTEST, child, auxpow)
    wrong_slot = build_pool_auxpow(child, OTHER_CHAINS, TREE_HEIGHT, 3, slot_of=4243)
    assert reason_of(check_header_proof, HASHGRAD_REGTEST, child, wrong_slot) == "auxpow-wrong-index"


def test_pool_minimal_coinbase_like_namecoin_test_framework():
    """Namecoin's functional-test auxpow: a coinbase with no outputs, alone in the parent, empty branches."""
    child = make_child_header()
    coinbase = build_parent_coinbase(build_aux_coinbase_script(child.hash, 0, 0), height_push=b"")
    assert coinbase.inputs[0].script_sig[:4] == MERGED_MINING_HEADER and not coinbase.outputs
    parent = grind_header(BlockHeader(0x20000000, b"\x00" * 32, coinbase.txid, 1_800_000_000, EASY_BITS, 0), EASY_BITS)
    auxpow = build_auxpow(coinbase, parent)
    raw = auxpow.serialize()
    assert raw.endswith(b"\x00" * 32 + b"\x00" + b"\x00" * 4 + b"\x00" + b"\x00" * 4 + parent.serialize())
    check_on_regtest(child, parse_auxpow(raw))
