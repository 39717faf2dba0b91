"""Following Bitcoin's header chain (`verify_bitcoin_headers`) on real mainnet, testnet3 and Bitcoin
Core's alternate-mainnet headers, and, in the style of Core's `feature_block.py`, on scripted chains
whose every rejection is checked for its exact reason and height.

Scripted chains use a `PowParams` with an easy powLimit (2^248) and an 8-block window (spacing 4 s,
timespan 32 s) so nonces can be ground in the test; powLimit * 4 * timespan < 2^256 as Core requires.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from data_files import read_data
from hashgrad.chain.btc_headers import verify_bitcoin_headers
from hashgrad.chain.difficulty import compute_next_work_required
from hashgrad.chain.hashes import hash_to_int
from hashgrad.chain.header import BlockHeader, iter_headers
from hashgrad.chain.params import BTC_MAIN, BTC_TEST, BitcoinParams, PowParams
from hashgrad.chain.pow import compute_block_proof, decode_compact, encode_compact
from hashgrad.errors import HeaderError

WORK_1 = 0x100010001
SYNTH_POW = PowParams(pow_limit=(1 << 248) - 1, target_timespan=32, target_spacing=4)
SYNTH_LIMIT_BITS = encode_compact(SYNTH_POW.pow_limit)
SYNTH_START_TIME = 1_700_000_000
MERKLE = bytes(range(32))


# --- scripted chains ---------------------------------------------------------------------------


def grind(version: int, prev_hash: bytes, time: int, bits: int) -> BlockHeader:
    """Find a nonce whose hash meets the target of `bits` (no powLimit check: bits may be wrong)."""
    target = decode_compact(bits).value
    for nonce in itertools.count():
        header = BlockHeader(version, prev_hash, MERKLE, time, bits, nonce)
        if hash_to_int(header.hash) <= target:
            return header
    raise AssertionError("unreachable")


class ListAncestry:
    def __init__(self, headers: list[BlockHeader]):
        self.headers = headers

    def time_at(self, height: int) -> int:
        return self.headers[height].time

    def bits_at(self, height: int) -> int:
        return self.headers[height].bits


def build_chain(pow: PowParams, times: list[int], versions: list[int] | None = None) -> list[BlockHeader]:
    """Headers 0..len(times)-1 at those times, each with the nBits the rules require."""
    versions = versions or [0x20000000] * len(times)
    chain = [grind(versions[0], b"\x00" * 32, times[0], encode_compact(pow.pow_limit))]
    for height in range(1, len(times)):
        bits = compute_next_work_required(pow, ListAncestry(chain), height - 1, times[height])
        chain.append(grind(versions[height], chain[-1].hash, times[height], bits))
    return chain


def synth_params(chain: list[BlockHeader], pow: PowParams = SYNTH_POW, **kwargs) -> BitcoinParams:
    return BitcoinParams(name="synthetic", pow=pow, genesis_hash_hex=chain[0].hash_hex, **kwargs)


def regrind(chain: list[BlockHeader], height: int, **changes) -> list[BlockHeader]:
    """The chain up to `height` with that header changed (and its PoW re-ground)."""
    old = chain[height]
    fields = {"version": old.version, "time": old.time, "bits": old.bits} | changes
    return chain[:height] + [grind(fields["version"], old.prev_hash, fields["time"], fields["bits"])]


@pytest.fixture(scope="module")
def fast_chain() -> list[BlockHeader]:
    """20 blocks one second apart: each window is clamped to 4x harder at heights 8 and 16."""
    return build_chain(SYNTH_POW, [SYNTH_START_TIME + h for h in range(20)])


def test_verify_bitcoin_headers_scripted_retarget(fast_chain):
    limit_target = decode_compact(SYNTH_LIMIT_BITS).value
    assert fast_chain[7].bits == SYNTH_LIMIT_BITS
    assert fast_chain[8].bits == encode_compact(limit_target // 4) != SYNTH_LIMIT_BITS  # span 7 s < 32/4
    assert fast_chain[16].bits == encode_compact(decode_compact(fast_chain[15].bits).value // 4)
    result = verify_bitcoin_headers(synth_params(fast_chain), fast_chain)
    assert result.ok and result.height == 19 and result.tip == fast_chain[19].hash_hex
    assert result.chainwork == sum(compute_block_proof(h.bits) for h in fast_chain)


def test_invalid_bad_diffbits_at_retarget(fast_chain):
    chain = regrind(fast_chain, 8, bits=fast_chain[7].bits)  # keeps the old (easier) bits
    result = verify_bitcoin_headers(synth_params(fast_chain), chain)
    assert (result.height, result.reason, result.tip) == (8, "bad-diffbits", fast_chain[7].hash_hex)


def test_invalid_bad_diffbits_between_retargets(fast_chain):
    harder = encode_compact(decode_compact(fast_chain[5].bits).value // 2)
    result = verify_bitcoin_headers(synth_params(fast_chain), regrind(fast_chain, 5, bits=harder))
    assert (result.height, result.reason) == (5, "bad-diffbits")


def test_invalid_bad_diffbits_above_pow_limit_is_high_hash(fast_chain):
    """Bits easier than powLimit fail CheckProofOfWork, which Core runs before the context checks."""
    easier = encode_compact(SYNTH_POW.pow_limit * 2)
    result = verify_bitcoin_headers(synth_params(fast_chain), regrind(fast_chain, 3, bits=easier))
    assert (result.height, result.reason) == (3, "high-hash")


def test_invalid_time_too_old(fast_chain):
    height = 12
    mtp = sorted(h.time for h in fast_chain[height - 11 : height])[5]
    params = synth_params(fast_chain)
    assert verify_bitcoin_headers(params, regrind(fast_chain, height, time=mtp + 1)).ok
    result = verify_bitcoin_headers(params, regrind(fast_chain, height, time=mtp))
    assert (result.height, result.reason) == (height, "time-too-old")


def test_invalid_time_too_old_near_genesis(fast_chain):
    """With fewer than 11 ancestors the median is over those there are (sorted[n // 2])."""
    mtp = sorted(h.time for h in fast_chain[:3])[1]
    result = verify_bitcoin_headers(synth_params(fast_chain), regrind(fast_chain, 3, time=mtp))
    assert (result.height, result.reason) == (3, "time-too-old")


def test_time_may_go_backwards(fast_chain):
    """Only median-time-past binds: a time below the previous block's is valid."""
    height = 12
    assert fast_chain[height - 1].time - 3 > sorted(h.time for h in fast_chain[height - 11 : height])[5]
    chain = regrind(fast_chain, height, time=fast_chain[height - 1].time - 3)
    assert verify_bitcoin_headers(synth_params(fast_chain), chain).ok


def test_invalid_time_too_new(fast_chain):
    params = synth_params(fast_chain)
    limit_now = fast_chain[-1].time - 7200
    assert verify_bitcoin_headers(params, fast_chain, now=limit_now).ok  # exactly 2 hours ahead is fine
    result = verify_bitcoin_headers(params, fast_chain, now=limit_now - 1)
    assert (result.height, result.reason) == (19, "time-too-new")


def test_invalid_bad_version():
    times = [SYNTH_START_TIME + 10 * h for h in range(10)]
    versions = [1, 1, 1, 2, 2, 3, 3, 4, 4, 0x20000000]
    chain = build_chain(SYNTH_POW, times, versions)
    params = synth_params(chain, bip34_height=3, bip66_height=5, bip65_height=7)
    assert verify_bitcoin_headers(params, chain).ok
    for height, version, reason in (
        (3, 1, "bad-version(0x00000001)"),
        (5, 2, "bad-version(0x00000002)"),
        (7, 3, "bad-version(0x00000003)"),
        (9, -0x80000000, "bad-version(0x80000000)"),
    ):
        result = verify_bitcoin_headers(params, regrind(chain, height, version=version))
        assert (result.height, result.reason) == (height, reason)


def test_min_difficulty_blocks_scripted():
    """Testnet rules on a scripted chain: a gap of more than 2 spacings allows powLimit bits, and the
    next block walks back to the last real difficulty."""
    pow = dataclasses.replace(SYNTH_POW, allow_min_difficulty_blocks=True)
    times = [SYNTH_START_TIME + h for h in range(12)]
    times[10:] = [times[9] + 9, times[9] + 10]  # block 10 comes 9 s (> 8 s) after block 9
    chain = build_chain(pow, times)
    assert chain[9].bits == chain[8].bits != SYNTH_LIMIT_BITS
    assert chain[10].bits == SYNTH_LIMIT_BITS and chain[11].bits == chain[9].bits
    params = synth_params(chain, pow=pow)
    assert verify_bitcoin_headers(params, chain).ok
    # Without the gap, a min-difficulty block is rejected; so is real difficulty after the gap.
    result = verify_bitcoin_headers(params, regrind(chain, 9, bits=SYNTH_LIMIT_BITS))
    assert (result.height, result.reason) == (9, "bad-diffbits")
    result = verify_bitcoin_headers(params, regrind(chain, 10, bits=chain[9].bits))
    assert (result.height, result.reason) == (10, "bad-diffbits")


# --- real headers --------------------------------------------------------------------------------


def test_verify_bitcoin_headers_mainnet_0_9999(mainnet_headers):
    result = verify_bitcoin_headers(BTC_MAIN, mainnet_headers)
    assert result.ok and result.height == 9999
    assert result.tip == "00000000fbc97cc6c599ce9c24dd4a2243e2bfd518eda56e1d5e47d29e29c3a7"
    assert result.chainwork == 10_000 * WORK_1
    assert mainnet_headers[0].hash_hex == BTC_MAIN.genesis_hash_hex


def test_verify_bitcoin_headers_mainnet_from_checkpoint(recent_headers, boundary_headers):
    result = verify_bitcoin_headers(BTC_MAIN, recent_headers, start_height=822528)
    assert result.ok and result.height == 830592
    assert result.tip == "00000000000000000000506183a8b30fa3224b85e82a70416e1d594bdb632fdb"
    assert recent_headers[0].hash_hex == "000000000000000000001daacd23f9cb40c69ba923085618a5f9dbdd4d97e93a"
    assert result.chainwork == boundary_headers[830592]["chainwork"] - boundary_headers[822527]["chainwork"]
    retargets = {h: recent_headers[h - 822528].bits for h in (822528, 824544, 826560, 828576, 830592)}
    assert retargets == {
        822528: 0x1703E8B3,
        824544: 0x1703D869,
        826560: 0x1704005A,
        828576: 0x1703BA5D,
        830592: 0x170371B1,
    }


def test_invalid_checkpoint_inside_window_is_unknown_ancestor(recent_headers):
    """A retarget whose first block lies below the checkpoint cannot be checked: no false bad-diffbits."""
    result = verify_bitcoin_headers(BTC_MAIN, recent_headers[1:], start_height=822529)
    assert (result.height, result.reason) == (824544, "unknown-ancestor")
    assert verify_bitcoin_headers(BTC_MAIN, recent_headers[1:2016], start_height=822529).ok


def test_verify_bitcoin_headers_testnet3_0_9999(testnet_headers):
    result = verify_bitcoin_headers(BTC_TEST, testnet_headers)
    assert result.ok and result.height == 9999
    assert result.tip == "000000001655e2a7293f28383a2965b2f0add77fd6ac383986e90971a07467d4"
    assert testnet_headers[0].hash_hex == BTC_TEST.genesis_hash_hex
    assert result.chainwork == sum(compute_block_proof(h.bits) for h in testnet_headers)
    twenty_minute = sum(
        1 for h in range(1, 10_000) if h % 2016 and testnet_headers[h].time > testnet_headers[h - 1].time + 1200
    )
    walked = sum(
        1
        for h in range(1, 10_000)
        if h % 2016
        and testnet_headers[h].time <= testnet_headers[h - 1].time + 1200
        and testnet_headers[h - 1].bits == 0x1D00FFFF
        and (h - 1) % 2016
    )
    assert (twenty_minute, walked) == (184, 4023)
    assert [testnet_headers[h].bits for h in (4032, 6048, 8064)] == [0x1C3FFFC0, 0x1C0FFFF0, 0x1C3FFFC0]


def test_verify_bitcoin_headers_testnet3_from_checkpoint(testnet_headers):
    result = verify_bitcoin_headers(BTC_TEST, testnet_headers[6048:], start_height=6048)
    assert result.ok and result.tip == testnet_headers[9999].hash_hex


def test_invalid_testnet_headers_on_mainnet(testnet_headers):
    result = verify_bitcoin_headers(BTC_MAIN, testnet_headers[:10])
    assert (result.height, result.reason) == (0, "bad-genesis")
    # Mainnet rules reject testnet3's first min-difficulty block after a retarget.
    first_min = next(h for h in range(4033, 10_000) if testnet_headers[h].bits == 0x1D00FFFF)
    result = verify_bitcoin_headers(
        dataclasses.replace(BTC_MAIN, genesis_hash_hex=BTC_TEST.genesis_hash_hex, bip34_height=10**9), testnet_headers
    )
    assert (result.height, result.reason) == (first_min, "bad-diffbits")


def test_verify_bitcoin_headers_core_mainnet_alt(load_json):
    """Bitcoin Core's mining_mainnet.py chain: block 2016 carries the 4x clamp 0x1c3fffc0."""
    headers = list(iter_headers(read_data("bitcoincore_mainnet_alt_headers_0000_2016.bin")))
    source = load_json("bitcoincore_mainnet_alt.json")
    assert [h.time for h in headers[1:]] == source["timestamps"]
    assert [h.nonce for h in headers[1:]] == source["nonces"]
    result = verify_bitcoin_headers(BTC_MAIN, headers)
    assert result.ok and result.height == 2016
    assert result.tip == "000000000c806553811fd3e6c40bc9c279db53643da7d3b401a9882c074c24b2"
    assert headers[2016].bits == 0x1C3FFFC0
    assert result.chainwork == 2016 * WORK_1 + (1 << 256) // ((0x3FFFC0 << 200) + 1)


def test_invalid_high_hash_nonce_flip(mainnet_headers):
    headers = list(mainnet_headers)
    headers[5000] = headers[5000].with_nonce(headers[5000].nonce ^ 1)
    result = verify_bitcoin_headers(BTC_MAIN, headers)
    assert (result.height, result.reason) == (5000, "high-hash")
    assert result.tip == mainnet_headers[4999].hash_hex
    assert result.chainwork == 5000 * WORK_1


def test_invalid_high_hash_before_context(mainnet_headers):
    """Changed bits or prev hash on a real header break its PoW first, as in Core's CheckBlockHeader."""
    headers = list(mainnet_headers[:3001])
    headers[3000] = dataclasses.replace(headers[3000], bits=0x1C7FFFFF)
    assert verify_bitcoin_headers(BTC_MAIN, headers).reason == "high-hash"
    headers[3000] = dataclasses.replace(mainnet_headers[3000], prev_hash=b"\x00" * 32)
    assert verify_bitcoin_headers(BTC_MAIN, headers).reason == "high-hash"


def test_invalid_bad_prevblk(mainnet_headers):
    headers = mainnet_headers[:5000] + mainnet_headers[5001:6000]  # header 5000 is missing
    result = verify_bitcoin_headers(BTC_MAIN, headers)
    assert (result.height, result.reason) == (5000, "bad-prevblk")


def test_invalid_time_too_new_real(mainnet_headers):
    now = mainnet_headers[5000].time - 7201
    expected = next(h for h, header in enumerate(mainnet_headers) if header.time > now + 7200)
    result = verify_bitcoin_headers(BTC_MAIN, mainnet_headers, now=now)
    assert (result.height, result.reason) == (expected, "time-too-new")
    assert 0 < expected <= 5000


def test_invalid_bad_version_real(mainnet_headers):
    """Real version-1 headers fail once BIP34 is active (moved to height 1000 for the test)."""
    result = verify_bitcoin_headers(dataclasses.replace(BTC_MAIN, bip34_height=1000), mainnet_headers)
    assert (result.height, result.reason) == (1000, "bad-version(0x00000001)")


def test_stale_header_823226(recent_headers, load_json):
    data = load_json("btc_mainnet_stale_header_823226.json")
    stale = BlockHeader.deserialize(bytes.fromhex(data["stale"]["header"]))
    main = BlockHeader.deserialize(bytes.fromhex(data["main_chain_same_height"]["header"]))
    index = 823226 - 822528
    assert main == recent_headers[index]
    assert stale.hash_hex == data["stale"]["hash"] != main.hash_hex == data["main_chain_same_height"]["hash"]
    main_result = verify_bitcoin_headers(BTC_MAIN, recent_headers[: index + 1], start_height=822528)
    stale_result = verify_bitcoin_headers(BTC_MAIN, recent_headers[:index] + [stale], start_height=822528)
    assert stale_result.ok and main_result.ok
    assert (stale_result.height, stale_result.tip) == (823226, stale.hash_hex)
    assert stale_result.chainwork == main_result.chainwork  # equal work: first seen wins in Core
    # The main chain goes on from its own 823226, not from the stale one.
    result = verify_bitcoin_headers(
        BTC_MAIN, recent_headers[:index] + [stale] + recent_headers[index + 1 : index + 5], start_height=822528
    )
    assert (result.height, result.reason) == (823227, "bad-prevblk")


def test_invalid_no_headers():
    with pytest.raises(HeaderError) as err:
        verify_bitcoin_headers(BTC_MAIN, [])
    assert err.value.reason == "no-headers"
