"""Difficulty: CalculateNextWorkRequired, GetNextWorkRequired (2015-interval window, testnet
minimum-difficulty rules), PermittedDifficultyTransition, against Bitcoin Core's `pow_tests.cpp`
cases, every real mainnet retarget up to 832608 and Electrum's checkpoints."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hashgrad.chain.difficulty import (
    compute_last_non_min_difficulty_bits,
    compute_next_walk_back_bits,
    compute_next_work_required,
    compute_retarget,
    is_permitted_difficulty_transition,
)
from hashgrad.chain.params import BITCOIN_POW_LIMIT, BTC_MAIN, BTC_REGTEST, BTC_TEST, PowParams
from hashgrad.chain.pow import decode_compact, encode_compact

MAIN_POW = BTC_MAIN.pow
LIMIT_BITS = 0x1D00FFFF


class HeightMap:
    """An Ancestry over explicit heights only: asking for any other height is a KeyError, which
    proves the rule reads exactly the blocks Bitcoin Core reads."""

    def __init__(self, times: dict[int, int], bits: dict[int, int]):
        self.times, self.bits = times, bits

    def time_at(self, height: int) -> int:
        return self.times[height]

    def bits_at(self, height: int) -> int:
        return self.bits[height]


def test_params_interval_and_sanity():
    assert MAIN_POW.adjustment_interval == 2016
    assert MAIN_POW.target_timespan == 1_209_600 and MAIN_POW.target_spacing == 600
    # pow_tests.cpp sanity_check_chainparams: the retarget product cannot overflow 256 bits.
    for params in (BTC_MAIN, BTC_TEST):
        assert params.pow.pow_limit < (1 << 256) // (4 * params.pow.target_timespan)
        assert encode_compact(params.pow.pow_limit) == LIMIT_BITS


def test_compute_retarget(load_json):
    cases = load_json("pow_retarget_cases.json")["calculate_next_work_required"]
    assert len(cases) == 4
    for case in cases:
        last_bits, expected = int(case["last_bits"], 16), int(case["expected_bits"], 16)
        assert compute_retarget(MAIN_POW, last_bits, case["last_time"], case["first_time"]) == expected, case["name"]
        # The same through GetNextWorkRequired, which must read the block last_height - 2015.
        first = case["last_height"] - 2015
        ancestry = HeightMap(
            {case["last_height"]: case["last_time"], first: case["first_time"]}, {case["last_height"]: last_bits}
        )
        assert compute_next_work_required(MAIN_POW, ancestry, case["last_height"], case["last_time"] + 600) == expected
        assert is_permitted_difficulty_transition(MAIN_POW, case["last_height"] + 1, last_bits, expected)


def test_invalid_difficulty_transition_not_permitted(load_json):
    cases = load_json("pow_retarget_cases.json")["calculate_next_work_required"]
    cases = [c for c in cases if "not_permitted_bits" in c]
    assert len(cases) == 2
    for case in cases:
        last_bits, bad = int(case["last_bits"], 16), int(case["not_permitted_bits"], 16)
        assert not is_permitted_difficulty_transition(MAIN_POW, case["last_height"] + 1, last_bits, bad), case["name"]


def test_is_permitted_difficulty_transition_outside_retarget():
    assert is_permitted_difficulty_transition(MAIN_POW, 2017, 0x1C05A3F4, 0x1C05A3F4)
    assert not is_permitted_difficulty_transition(MAIN_POW, 2017, 0x1C05A3F4, 0x1C05A3F5)
    # fPowAllowMinDifficultyBlocks skips the check entirely (testnet).
    assert is_permitted_difficulty_transition(BTC_TEST.pow, 2017, 0x1C05A3F4, LIMIT_BITS)


def test_compute_next_work_required_no_retarget_keeps_bits():
    ancestry = HeightMap({}, {100: 0x1C05A3F4})
    assert compute_next_work_required(MAIN_POW, ancestry, 100, 0) == 0x1C05A3F4


def test_compute_next_work_required_regtest_never_retargets():
    pow = BTC_REGTEST.pow
    last = pow.adjustment_interval - 1
    ancestry = HeightMap({last: 10, 0: 0}, {last: 0x207FFFFF})
    assert compute_next_work_required(pow, ancestry, last, 11) == 0x207FFFFF
    assert compute_retarget(pow, 0x207FFFFF, 10, 0) == 0x207FFFFF


def test_compute_next_work_required_full_window():
    """Namecoin's fix (our own chain's choice): the window's first block is last - 2016, except at 2016."""
    pow = PowParams(pow_limit=BITCOIN_POW_LIMIT, retarget_full_window=True)
    ancestry = HeightMap({4031: 2_000_000, 2015: 1_000_000}, {4031: 0x1C05A3F4})
    assert compute_next_work_required(pow, ancestry, 4031, 0) == compute_retarget(pow, 0x1C05A3F4, 2_000_000, 1_000_000)
    first_window = HeightMap({2015: 1_000_000, 0: 0}, {2015: 0x1C05A3F4})
    assert compute_next_work_required(pow, first_window, 2015, 0) == compute_retarget(pow, 0x1C05A3F4, 1_000_000, 0)


def test_all_mainnet_retargets(boundary_headers):
    """All 413 real retargets up to 832608 recompute exactly from the window's first and last blocks."""
    changed = clamped_up = 0
    k = 1
    while k * 2016 in boundary_headers:
        first, last, new = (boundary_headers[h]["header"] for h in ((k - 1) * 2016, k * 2016 - 1, k * 2016))
        ancestry = HeightMap({k * 2016 - 1: last.time, (k - 1) * 2016: first.time}, {k * 2016 - 1: last.bits})
        assert compute_next_work_required(MAIN_POW, ancestry, k * 2016 - 1, new.time) == new.bits, k
        assert is_permitted_difficulty_transition(MAIN_POW, k * 2016, last.bits, new.bits)
        assert new.prev_hash == last.hash
        changed += new.bits != last.bits
        clamped_up += last.time - first.time < MAIN_POW.target_timespan // 4
        k += 1
    assert k - 1 == 413
    assert changed == 398
    assert clamped_up == 1  # the window ending at 68543, as in pow_tests.cpp


def test_electrum_checkpoints(boundary_headers, load_json):
    """Electrum's checkpoint k-1 is (hash of k*2016-1, target of window k) for every k the boundaries reach."""
    checkpoints = load_json("electrum_mainnet_checkpoints.json")
    assert len(checkpoints) == 473
    checked = 0
    for index, (hash_hex, target) in enumerate(checkpoints):
        k = index + 1
        if k * 2016 not in boundary_headers:
            break
        assert boundary_headers[k * 2016 - 1]["header"].hash_hex == hash_hex == boundary_headers[k * 2016 - 1]["hash"]
        assert decode_compact(boundary_headers[k * 2016]["header"].bits).value == target
        checked += 1
    assert checked == 413


def test_testnet_twenty_minute_rule():
    ancestry = HeightMap({5000: 1_000_000}, {5000: 0x1C0FFFF0})
    assert compute_next_work_required(BTC_TEST.pow, ancestry, 5000, 1_000_000 + 1201) == LIMIT_BITS
    # At exactly 20 minutes the rule does not apply: walk back (5000 is not min-difficulty).
    assert compute_next_work_required(BTC_TEST.pow, ancestry, 5000, 1_000_000 + 1200) == 0x1C0FFFF0


def test_testnet_walk_back():
    bits = {4032: 0x1C3FFFC0, 4033: 0x1C3FFFC0, 4034: LIMIT_BITS, 4035: LIMIT_BITS}
    ancestry = HeightMap({4035: 0}, bits)
    assert compute_next_work_required(BTC_TEST.pow, ancestry, 4035, 60) == 0x1C3FFFC0
    # The walk stops at a window's first block even when that block is at minimum difficulty.
    assert (
        compute_last_non_min_difficulty_bits(
            HeightMap({}, {4032: LIMIT_BITS, 4033: LIMIT_BITS}), 4033, 2016, LIMIT_BITS
        )
        == LIMIT_BITS
    )


@given(
    st.lists(st.sampled_from([LIMIT_BITS, 0x1C3FFFC0, 0x1C0FFFF0]), min_size=1, max_size=60),
    st.integers(min_value=2, max_value=9),
)
def test_compute_next_walk_back_bits_matches_walk(bits_list, interval):
    """The O(1) tracker equals Bitcoin Core's walk-back loop at every height."""
    ancestry = HeightMap({}, dict(enumerate(bits_list)))
    tracked = None
    for height, bits in enumerate(bits_list):
        tracked = compute_next_walk_back_bits(tracked, height, bits, interval, LIMIT_BITS)
        assert tracked == compute_last_non_min_difficulty_bits(ancestry, height, interval, LIMIT_BITS)


def test_testnet3_walk_back_tracker_equals_loop(testnet_headers):
    """On the real testnet3 headers the tracker equals the reference loop, which predicts every nBits."""
    ancestry = HeightMap({}, {h: header.bits for h, header in enumerate(testnet_headers)})
    tracked = None
    for height, header in enumerate(testnet_headers):
        tracked = compute_next_walk_back_bits(tracked, height, header.bits, 2016, LIMIT_BITS)
        if height % 97 == 0 or height % 2016 in (0, 2015):  # the loop is O(2016): sample it
            assert tracked == compute_last_non_min_difficulty_bits(ancestry, height, 2016, LIMIT_BITS)


@given(
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=0x1B000001, max_value=0x1D00FFFF),
    st.integers(min_value=-(10**7), max_value=10**7),
)
def test_retarget_is_permitted_transition(k, last_bits, span):
    """Mirror of Core's pow_transition fuzz target: every computed retarget is a permitted transition."""
    decoded = decode_compact(last_bits)
    if decoded.negative or decoded.overflow or decoded.value == 0 or decoded.value > BITCOIN_POW_LIMIT:
        return
    last_bits = encode_compact(decoded.value)
    new_bits = compute_retarget(MAIN_POW, last_bits, 1_500_000_000 + span, 1_500_000_000)
    assert is_permitted_difficulty_transition(MAIN_POW, k * 2016, last_bits, new_bits)
