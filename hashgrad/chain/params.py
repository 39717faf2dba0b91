"""Per-network consensus parameters, passed explicitly everywhere (no globals).

`BitcoinParams` describes Bitcoin's own networks so hashgrad can follow Bitcoin's header chain.
`ChainParams` describes hashgrad's networks: main and test retarget as Bitcoin does; regtest and
devnet run at minimum difficulty without retargeting and have blocks made on demand / on a timer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hashgrad.chain.jobs import JOB_INFER, JOB_TRAIN, JobParams
from hashgrad.errors import HashgradError
from hashgrad.units import COIN

__all__ = ["COIN"]  # re-exported: the wallet, CLI and devnet take the money unit from the chain's params
MAX_MONEY = 21_000_000 * COIN
MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60
MEDIAN_TIME_SPAN = 11
HASHGRAD_CHAIN_ID = 4242  # high 16 bits of the header version; AuxPoW chain ID (not 1, 98 or 4096)

BITCOIN_POW_LIMIT = 0x00000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF
# Below 2^256 / (4 * two weeks) so a 256-bit retarget cannot overflow (Core's sanity_check_chainparams).
HASHGRAD_POW_LIMIT = (1 << 233) - 1  # compact 0x1e01ffff
REGTEST_POW_LIMIT = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class PowParams:
    """The proof-of-work and difficulty rules shared by Bitcoin's networks and ours."""

    pow_limit: int
    target_timespan: int = 14 * 24 * 60 * 60
    target_spacing: int = 10 * 60
    allow_min_difficulty_blocks: bool = False
    no_retargeting: bool = False
    # Bitcoin measures each window over 2015 intervals (the time-warp quirk); Namecoin fixed it.
    retarget_full_window: bool = False

    @property
    def adjustment_interval(self) -> int:
        return self.target_timespan // self.target_spacing


@dataclass(frozen=True)
class BitcoinParams:
    name: str
    pow: PowParams
    genesis_hash_hex: str
    subsidy_halving_interval: int = 210_000
    bip34_height: int = 0  # from these heights, headers need version >= 2, 3 and 4
    bip66_height: int = 0
    bip65_height: int = 0


BTC_MAIN = BitcoinParams(
    name="main",
    pow=PowParams(pow_limit=BITCOIN_POW_LIMIT),
    genesis_hash_hex="000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    bip34_height=227_931,
    bip66_height=363_725,
    bip65_height=388_381,
)
BTC_TEST = BitcoinParams(
    name="test",
    pow=PowParams(pow_limit=BITCOIN_POW_LIMIT, allow_min_difficulty_blocks=True),
    genesis_hash_hex="000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    bip34_height=21_111,
    bip66_height=330_776,
    bip65_height=581_885,
)
BTC_REGTEST = BitcoinParams(
    name="regtest",
    pow=PowParams(
        pow_limit=REGTEST_POW_LIMIT, target_timespan=24 * 60 * 60, allow_min_difficulty_blocks=True, no_retargeting=True
    ),
    genesis_hash_hex="0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    subsidy_halving_interval=150,
    bip34_height=1,
    bip66_height=1,
    bip65_height=1,
)
BITCOIN_NETWORKS = {p.name: p for p in (BTC_MAIN, BTC_TEST, BTC_REGTEST)}


@dataclass(frozen=True)
class ChainParams:
    """One hashgrad network. Amounts are in base units (1 coin = 10^8)."""

    name: str
    magic: bytes
    hrp: str
    p2p_port: int
    rpc_port: int
    pow: PowParams
    genesis_time: int
    genesis_bits: int
    genesis_nonce: int
    genesis_message: bytes = b"hashgrad genesis: proof of work that trains open models"
    chain_id: int = HASHGRAD_CHAIN_ID
    initial_subsidy: int = 50 * COIN
    subsidy_halving_interval: int = 210_000
    block_maker_share_bps: int = 1_800  # the rest of each subsidy accrues to the job work pools
    job_shares_bps: tuple[tuple[int, int], ...] = ((0, 7_000), (1, 3_000))
    max_block_size: int = 1_000_000
    max_tx_size: int = 100_000
    max_reorg_depth: int = 100
    auxpow_start_height: int | None = 0  # None: never; AuxPoW blocks accepted from this height
    allow_own_pow: bool = True
    mine_on_demand: bool = False  # regtest/devnet: `generatetoaddress` is available
    block_interval_s: float = 600.0  # devnet's block maker paces blocks on this timer
    jobs: tuple[JobParams, ...] = (
        JobParams(0, "train-default-model", JOB_TRAIN),
        JobParams(1, "serve-default-model", JOB_INFER, require_work_reveal=False),
    )

    @property
    def genesis_coinbase_amount(self) -> int:
        return 0  # the genesis block issues nothing: supply starts at zero


HASHGRAD_MAIN = ChainParams(
    name="main",
    magic=bytes.fromhex("f1a5c0de"),
    hrp="hg",
    p2p_port=9444,
    rpc_port=9443,
    pow=PowParams(pow_limit=HASHGRAD_POW_LIMIT, retarget_full_window=True),
    genesis_time=1793491200,
    genesis_bits=0x1E01FFFF,
    genesis_nonce=6991899,
)
HASHGRAD_TEST = ChainParams(
    name="test",
    magic=bytes.fromhex("0b1a5c0d"),
    hrp="thg",
    p2p_port=19444,
    rpc_port=19443,
    pow=PowParams(pow_limit=HASHGRAD_POW_LIMIT, allow_min_difficulty_blocks=True, retarget_full_window=True),
    genesis_time=1793491201,
    genesis_bits=0x1E01FFFF,
    genesis_nonce=1533657,
)
HASHGRAD_REGTEST = ChainParams(
    name="regtest",
    magic=bytes.fromhex("fa1b5c0e"),
    hrp="rhg",
    p2p_port=29444,
    rpc_port=29443,
    pow=PowParams(
        pow_limit=REGTEST_POW_LIMIT, target_timespan=24 * 60 * 60, allow_min_difficulty_blocks=True, no_retargeting=True
    ),
    genesis_time=1793491202,
    genesis_bits=0x207FFFFF,
    genesis_nonce=1,
    subsidy_halving_interval=150,
    mine_on_demand=True,
    block_interval_s=1.0,
)
HASHGRAD_DEVNET = ChainParams(
    name="devnet",
    magic=bytes.fromhex("de1a5c0f"),
    hrp="dhg",
    p2p_port=39444,
    rpc_port=39443,
    pow=PowParams(
        pow_limit=REGTEST_POW_LIMIT,
        target_timespan=24 * 60 * 60,
        target_spacing=2,
        allow_min_difficulty_blocks=True,
        no_retargeting=True,
    ),
    genesis_time=1793491203,
    genesis_bits=0x207FFFFF,
    genesis_nonce=1,
    mine_on_demand=True,
    block_interval_s=2.0,
    # ~2 s blocks: a 30-block epoch gives miners ~36 s to fetch the checkpoint and train, then
    # reveals, scoring, weight commit and reveal; the demo runs a handful of such epochs.
    jobs=(
        JobParams(
            0,
            "train-default-model",
            JOB_TRAIN,
            tempo=30,
            work_commit_end=18,
            work_reveal_end=21,
            weights_commit_end=26,
            immunity_period=300,
            work_spec='{"preset": "demo"}',
        ),
        JobParams(
            1,
            "serve-default-model",
            JOB_INFER,
            tempo=30,
            work_commit_end=18,
            work_reveal_end=21,
            weights_commit_end=26,
            immunity_period=300,
            require_work_reveal=False,
        ),
    ),
)
# the devnet with rounds inside epochs: job 0 trains 2 rounds of H = 10 per epoch in 44-block epochs, so
# that each round has 14 blocks (~28 s) for what a loaded 2-core machine needs ~20 s to train (a miner
# cannot start round r + 1 before round r closes), and the validator, which scores the last round once it
# closes, has 11 blocks before its weights are due; validators loss-test one round of the two (drawn),
# as much as in a one-round epoch; `hashgrad devnet --rounds-per-epoch 2` runs it
HASHGRAD_DEVNET_ROUNDS = replace(
    HASHGRAD_DEVNET,
    name="devnet-rounds",
    magic=bytes.fromhex("de1a5c10"),
    hrp="dhgr",
    p2p_port=39454,
    rpc_port=39453,
    genesis_time=1793491204,
    genesis_nonce=1,
    jobs=(
        replace(
            HASHGRAD_DEVNET.jobs[0],
            tempo=44,
            work_commit_end=28,
            work_reveal_end=31,
            weights_commit_end=40,
            work_spec='{"inner_steps": 10, "preset": "demo", "rounds_per_epoch": 2, "score_fraction": 0.5}',
        ),
        replace(HASHGRAD_DEVNET.jobs[1], tempo=44, work_commit_end=28, work_reveal_end=31, weights_commit_end=40),
    ),
)
NETWORKS = {
    p.name: p for p in (HASHGRAD_MAIN, HASHGRAD_TEST, HASHGRAD_REGTEST, HASHGRAD_DEVNET, HASHGRAD_DEVNET_ROUNDS)
}


def get_network(name: str) -> ChainParams:

    if name not in NETWORKS:
        raise HashgradError("unknown-network", f"{name!r}; choose one of {', '.join(NETWORKS)}")
    return NETWORKS[name]
