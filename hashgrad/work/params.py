"""WorkParams: every knob of a training job, passed explicitly (no globals), with presets.

The defaults follow notes/training-protocol.md §9.3 scaled to a CPU model: H = 30 inner AdamW
steps, median-norm clipping, quorum 3, replay audits with probability 2 %. Compression keeps the
top 1 of every 32 values (3.1 % density) with 5-bit indices and 2-bit values: the same bytes as
Templar's top-64 of 4096 with 12-bit indices, twice the values. Error feedback decays by 0.5 per
epoch, not SparseLoCo's 0.95: with tens of epochs rather than thousands, a long memory sends
stale directions that made the held-out loss climb (bench/bench_training.py measured 2.60 ->
2.14 nats after 10 epochs for 0.95 -> 0.5). With rounds inside epochs (`rounds_per_epoch`, presets
`rounds` and `main`) there are hundreds of outer steps and SparseLoCo's 0.95 is back. A demo
epoch (H=30, batch 32, context 128) is ~10 s of one core.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from hashgrad.errors import WorkError
from hashgrad.work.model import MODEL_PRESETS, GPTConfig

# sparseloco: miners keep error feedback (decay ef_decay), the aggregate is a per-coordinate sparse mean,
# no outer momentum (SparseLoCo, Templar); nesterov: dense mean with Nesterov outer momentum (DiLoCo);
# average: dense mean, plain step (federated averaging at outer_lr 1)
OUTER_OPTIMIZERS = ("sparseloco", "nesterov", "average")


@dataclass(frozen=True)
class WorkParams:
    job_id: int = 0
    model: GPTConfig = GPTConfig()
    # data
    page_tokens: int = 4096  # bytes per page; a page holds page_tokens // (block_size + 1) windows
    pages_per_miner: int = 16
    # miner: inner optimisation
    inner_steps: int = 30
    batch_size: int = 32  # the most windows a step may take (and what an honest full-effort miner takes)
    # a miner may train on smaller batches, down to this; it declares its batch in the update header, audits
    # replay it, and its credit is scaled by declared / batch_size (scoring.compute_effort_factor)
    min_batch_size: int = 1
    inner_lr: float = 3e-3
    inner_betas: tuple[float, float] = (0.9, 0.95)
    inner_weight_decay: float = 0.0
    inner_grad_clip: float = 1.0
    # what a miner may train in: fp32, and bf16 (autocast, where the device has it) for jobs that add it
    precisions: tuple[str, ...] = ("fp32",)
    # compression
    chunk_size: int = 32  # elements per chunk (<= 4096; indices take compress.compute_index_bits bits)
    topk: int = 1  # kept per full chunk; a partial chunk keeps a proportional number (>= 1)
    quant_bins: int = 4  # 2-bit values
    ef_decay: float = 0.5
    # validator
    norm_low: float = 0.1  # accepted ||update|| range, as multiples of the epoch's median norm
    norm_high: float = 3.0
    dup_cosine: float = 0.9  # a later submission this similar to an earlier or recent one is a copy
    history_epochs: int = 3
    # own windows of the loss test: 256, not 64, so that the own-vs-random excess of a compressed update
    # orders data faithfulness (bench/README.md: at 64 the honest excess sat at 2-3 errors, at 256 at 4-5)
    eval_own_windows: int = 256
    eval_rand_windows: int = 64  # the loss test starts with this many random windows ...
    eval_rand_max: int = 256  # ... and doubles them up to this many ...
    eval_rel_stderr: float = 0.05  # ... until the gain's standard error is within this fraction of it
    eval_z: float = 1.0  # s_rand must exceed z (page-clustered) standard errors
    gate_z: float = 2.0  # own-window gain must exceed the random one by this many standard errors ...
    gate_margin: float = 2.33  # ... once the median update does by gate_z + this (honest pass ~99 %)
    own_factor_z: float = 2.0  # credit scales with the own-data advantage once the median shows it by this
    score_clip_quantile: float = 0.75  # the loss test clips updates to this quantile of the epoch's norms
    min_relative_gain: float = 0.5  # ... and this fraction of the epoch's median significant gain
    # a gain scores (gain / median gain) ** gain_power ... A power above 1 widens small shortfalls: at 1 or 2 the
    # training bench's sandbagger (2 steps of 10, scaled x5) earned 0.04-0.06 an epoch, at 3 ~0 (bench/README.md)
    gain_power: float = 3.0
    gain_cap: float = 2.0  # ... with the ratio capped here
    score_ema: float = 0.5
    audit_probability: float = 0.02
    # x audit_probability for new hotkeys and those flagged in their last epoch. An audit replays on
    # average 0.58 of a run (a milestone or the whole run, uniformly), so a validator spends about
    # 0.02 x 0.58 = 1.2 % of a miner's training on an established miner and 0.08 x 0.58 = 4.7 % on a
    # new or suspect one: within the 5 % verification budget either way
    audit_boost: float = 4.0
    audit_new_epochs: int = 1  # a hotkey is new until a validator has scored it this many epochs
    audit_stride: int = 5  # the miner declares a weight hash every audit_stride inner steps
    # cross-class audits (work.crossclass): accept a replay on other hardware when its relative distance
    # to the miner's claimed state is at most this, per precision. fp32: at least DRIFT_MARGIN (40) x the
    # worst honest drift bench/bench_portability.py measured between CPU kernels (2.2e-5 -> 1e-3; the
    # closest cheat, 5 % noise, lands at 0.05). bf16: its honest drift is 6.2e-3, so 2e-2 leaves only
    # 3.2 x; a 5 % noise stays beyond it, a smaller one does not: why bf16 is not accepted by default
    drift_thresholds: tuple[tuple[str, float], ...] = (("fp32", 1e-3), ("bf16", 2e-2))
    max_reveal_bytes: int = 256 * 1024 * 1024  # a revealed milestone state (weights and moments)
    max_artifact_bytes: int = 4 * 1024 * 1024
    # rounds: a round is one outer step (H inner steps, one artifact per miner); an epoch holds
    # rounds_per_epoch of them and ends with the chain's consensus (bench/README.md measures why)
    rounds_per_epoch: int = 1
    score_fraction: float = 1.0  # share of rounds a validator loss-tests (salted, unpredictable to miners)
    # aggregation
    outer_optimizer: str = "sparseloco"  # see OUTER_OPTIMIZERS and aggregate.py
    outer_lr: float = 1.0
    outer_momentum: float = 0.0  # Nesterov momentum of the outer step (0: plain SGD, no state in the checkpoint)
    top_g: int = 15
    # a round aggregates the uids that held incentive in any of the last selection_epochs epochs (their
    # incentive summed ranks them): one epoch of noisy loss tests (few scored rounds) then does not drop
    # an honest miner from training; a uid that never earns is still never aggregated after the first epoch
    selection_epochs: int = 1
    quorum: int = 3
    accept_fraction: float = 0.1  # weight below this fraction of the best weight is not aggregated

    def check(self) -> WorkParams:
        self.model.check()
        positive = (
            self.page_tokens,
            self.pages_per_miner,
            self.inner_steps,
            self.batch_size,
            self.chunk_size,
            self.topk,
            self.eval_own_windows,
            self.eval_rand_windows,
            self.eval_rand_max,
            self.top_g,
            self.quorum,
            self.audit_stride,
            self.selection_epochs,
        )
        if min(positive) <= 0:
            raise WorkError("bad-params", "sizes and counts must be positive")
        if self.page_tokens < self.model.block_size + 1:
            raise WorkError("bad-params", "a page must hold at least one window")
        if self.chunk_size > 4096 or self.topk > self.chunk_size:
            raise WorkError("bad-params", "chunk_size <= 4096 (u16 indices) and topk <= chunk_size")
        if not self.precisions or not set(self.precisions) <= {"fp32", "bf16"}:
            raise WorkError("bad-params", "precisions must be a non-empty subset of fp32, bf16")
        if not all(0 < t < 1 for _, t in self.drift_thresholds) or not set(self.precisions) <= set(
            dict(self.drift_thresholds)
        ):
            raise WorkError("bad-params", "every accepted precision needs a drift threshold in (0, 1)")
        if self.quant_bins not in (2, 4, 16, 256):
            raise WorkError("bad-params", "quant_bins must be 2, 4, 16 or 256")
        if not (self.gain_power > 0 and self.gain_cap >= 1):
            raise WorkError("bad-params", "gain_power must be positive and gain_cap at least 1")
        if self.outer_optimizer not in OUTER_OPTIMIZERS:
            raise WorkError("bad-params", f"outer_optimizer must be one of {', '.join(OUTER_OPTIMIZERS)}")
        if self.rounds_per_epoch <= 0 or not 0 < self.score_fraction <= 1:
            raise WorkError("bad-params", "rounds_per_epoch must be positive and score_fraction in (0, 1]")
        if not (0 <= self.outer_momentum < 1 and self.outer_lr > 0):
            raise WorkError("bad-params", "outer_momentum must be in [0, 1) and outer_lr positive")
        if not (0 <= self.audit_probability <= 1 and 0 < self.score_ema <= 1 and 0 < self.norm_low < self.norm_high):
            raise WorkError("bad-params", "probability, EMA or norm bounds out of range")
        if not (
            self.eval_rand_windows <= self.eval_rand_max
            and 0 <= self.score_clip_quantile <= 1
            and self.audit_boost >= 1
            and self.audit_new_epochs >= 0
            and self.gate_margin >= 0
            and 1 <= self.min_batch_size <= self.batch_size
        ):
            raise WorkError("bad-params", "loss-test windows, credit clip quantile or audit boost out of range")
        return self

    def get_drift_threshold(self, precision: str) -> float:
        return dict(self.drift_thresholds)[precision]

    @property
    def windows_per_page(self) -> int:
        return self.page_tokens // (self.model.block_size + 1)

    def to_json(self) -> dict:
        return asdict(self)


WORK_PRESETS: dict[str, WorkParams] = {
    # the devnet: a quorum of 2 so that the default demo (2 honest miners) moves the model. The own-data
    # gate is the same everywhere (gate_z): its errors are clustered by page, and it is strict only once
    # the median update shows its own-data advantage clearly (scoring.compute_own_gate)
    # 64 own windows, not 256: the demo validator's loss tests must fit the devnet's 10 s weights window
    "demo": WorkParams(quorum=2, eval_own_windows=64),
    # the benchmark: 0.12M-param model, ~1.2 s of one core per miner-epoch; 30 pages of 32 windows are
    # exactly the 30 x 32 windows of an epoch, so a miner trains on each of its windows once (with 16
    # pages it saw each twice, and the swarm's held-out loss after 10 epochs was 2.18 rather than 2.12)
    "small": WorkParams(model=MODEL_PRESETS["small"], page_tokens=2080, pages_per_miner=30),
    # rounds inside epochs, measured by bench/bench_training.py (bench/README.md): a 0.12M-parameter
    # model with a 32-byte context, so that >= 100 rounds of 8 miners run in minutes on 2 cores. A round
    # is ONE inner step of 8 windows (H = 1): the per-step compressed exchange of SparseLoCo/DeMo, so the
    # 8 miners' steps are averaged before they are applied, as in data-parallel training with batch 64
    # (with H = 10, 100 rounds, 8 miners were worth one: bench/README.md's table). Error feedback 0.95
    # carries what top 1 of 32 (5-bit indices, 2-bit values) did not send yet: an artifact is ~1/100
    # of the dense update, per round. 100 rounds per epoch. A one-step update's loss test is noisy and a
    # round's compute is a tenth of H = 10's, so validators loss-test a salted 3 % of the rounds with 48
    # random windows (their share of the compute stays under 5 %), and a round aggregates whoever held
    # incentive in one of the last 3 epochs (with one epoch's 1-3 tests, 3-5 of 8 honest miners held none)
    "rounds": WorkParams(
        model=GPTConfig(block_size=32, n_layer=2, n_head=4, n_embd=64),
        page_tokens=1056,
        pages_per_miner=8,
        inner_steps=1,
        batch_size=8,
        rounds_per_epoch=100,
        ef_decay=0.95,
        score_fraction=0.03,
        eval_rand_windows=48,
        eval_rand_max=48,
        selection_epochs=3,
    ),
    # the main network's job: an epoch is 30 blocks of 10 min = 5 h; 60 rounds of 300 s in it
    "main": WorkParams(rounds_per_epoch=60, ef_decay=0.95),
    # unit tests: 35K parameters, an epoch in a fraction of a second
    "tiny": WorkParams(
        model=MODEL_PRESETS["tiny"],
        page_tokens=1056,
        pages_per_miner=4,
        inner_steps=12,
        batch_size=8,
        eval_own_windows=16,
        eval_rand_windows=32,
        eval_rand_max=128,
        chunk_size=1024,
        topk=16,
        history_epochs=2,
    ),
}


def get_preset(name: str, **overrides) -> WorkParams:
    if name not in WORK_PRESETS:
        raise WorkError("unknown-preset", f"{name}; known: {', '.join(WORK_PRESETS)}")
    return replace(WORK_PRESETS[name], **overrides).check()
