"""getblocktemplate → build and grind outside the node → submitblock, with Bitcoin Core's BIP22 answers:
None when the block joins the chain, "duplicate" the second time, "inconclusive" for a block whose
parent is unknown, and the ledger's reason ("bad-cb-amount", "high-hash") for an invalid one. A block
submitted this way reaches peers like any other.
"""

from __future__ import annotations

from dataclasses import replace

from functional.framework import connect_nodes, make_block, new_address, sync_blocks, sync_mempools
from hashgrad.chain.hashes import display_to_hash, hash_to_display
from hashgrad.chain.tx import make_transfer
from hashgrad.mining.grind import grind_block
from hashgrad.mining.template import BlockTemplate


def test_getblocktemplate_and_submitblock(node_factory):
    node0, node1 = node_factory(2)
    connect_nodes(node1, node0)
    alice, alice_address = new_address(node0.params)
    bob, _ = new_address(node0.params)
    node0.generate(1, alice_address)
    sync_blocks([node0, node1])  # node1 must know alice's funds, or it refuses the relayed transfer
    tx = make_transfer(alice, node0.params.magic, 0, bob.pubkey, 5_000, 2_000)
    txid = node0.sendrawtransaction(tx.serialize().hex())
    sync_mempools([node0, node1])

    gbt = node0.getblocktemplate()
    assert gbt["height"] == 2 and gbt["previousblockhash"] == node0.getbestblockhash()
    assert [t["txid"] for t in gbt["transactions"]] == [txid]
    assert gbt["bits"] == "207fffff" and gbt["sizelimit"] == node0.params.max_block_size
    subsidy_share = node0.getblock(node0.getbestblockhash(), 2)["tx"][0]["amount"]
    assert gbt["coinbasevalue"] == subsidy_share + 2_000  # the maker's share plus the fee

    template = BlockTemplate(
        gbt["height"],
        display_to_hash(gbt["previousblockhash"]),
        int(gbt["bits"], 16),
        gbt["curtime"],
        gbt["coinbasevalue"],
        (tx,),
    )
    block = grind_block(template.build_block(node0.params, bob.pubkey, b"external"), node0.params.pow.pow_limit)
    assert node0.submitblock(block.serialize().hex()) is None
    assert node0.submitblock(block.serialize().hex()) == "duplicate"
    assert node0.getbestblockhash() == hash_to_display(block.hash)
    sync_blocks([node0, node1])
    assert node1.gettransaction(txid)["blockhash"] == hash_to_display(block.hash)

    bad = make_block(node0, bob.pubkey, extra_value=1)
    assert node0.submitblock(bad.serialize().hex()) == "bad-cb-amount"
    assert node0.submitblock(make_block(node0, bob.pubkey, valid_pow=False).serialize().hex()) == "high-hash"
    orphan_header = replace(bad.header, prev_hash=b"\x42" * 32)
    orphan = grind_block(replace(bad, header=orphan_header), node0.params.pow.pow_limit)
    assert node0.submitblock(orphan.serialize().hex()) == "inconclusive"
    assert node0.getbestblockhash() == hash_to_display(block.hash)
