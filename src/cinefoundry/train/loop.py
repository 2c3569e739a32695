"""One training stage as a resumable loop: AdamW, warmup + cosine, EMA, checkpoints, a time budget.

Everything random in step k (data order, noise, timesteps, dropout) is drawn from generators seeded by
(seed, k), for the whole global batch, and each rank takes its slice: a resumed run repeats an uninterrupted
one exactly, and N ranks see what one process with the same global batch sees.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.train.parallel import Parallel, full_tensor, load_full_tensor

# With a time budget the step count is planned from measured speed: first from steps PLAN_FROM..PLAN_AT of this
# process, then again at steps 50 and 100 and every REPLAN_EVERY steps after, each time from the speed since the
# last plan. 20 steps alone misjudged a 2-core VM's speed by 25% either way (a 320 s budget ran 251 s, or 381 s),
# and a VM that slows as it runs needs its recent speed, not its average.
PLAN_FROM, PLAN_AT, REPLAN_EVERY = 5, 25, 100

# loss_fn(model, global_indices, rank_slice, generator) -> scalar loss of this rank's slice
LossFn = Callable[[torch.nn.Module, torch.Tensor, slice, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class StageSpec:
    """How one stage trains. `batch` is global (split across ranks); `seconds` caps wall time."""

    name: str
    steps: int
    batch: int
    lr: float
    warmup: int = 0
    weight_decay: float = 0.0
    ema_decay: float | None = None
    seconds: float | None = None
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 500
    precision: str = "auto"  # "bf16" or "fp32"; "auto": bf16 autocast on GPUs, and on bf16-native CPUs if cpu_bf16
    cpu_bf16: bool = False  # the stage is faster in bf16 on CPUs that compute it natively (convolutions are)
    min_steps: int = 0  # with a time budget: train at least this many steps, however slow the machine is


@dataclass
class StageResult:
    """What a stage did: the losses per step (global means), steps run, wall seconds, samples per second."""

    losses: list[float] = field(default_factory=list)
    steps: int = 0
    planned: int = 0
    seconds: float = 0.0
    resumed_from: int = 0
    precision: str = "fp32"  # what the stage computed in: bf16 (autocast) or fp32
    batch: int = 0

    @property
    def samples_per_s(self) -> float:
        return 0.0 if not self.seconds else self.steps * self.batch / self.seconds

    def as_dict(self) -> dict[str, Any]:
        tail = self.losses[-50:]
        return {"steps": self.steps, "planned_steps": self.planned, "seconds": round(self.seconds, 1),
                "samples_per_s": round(self.samples_per_s, 2), "resumed_from": self.resumed_from,
                "precision": self.precision, "final_loss": sum(tail) / len(tail) if tail else None}  # fmt: skip


def batch_indices(step: int, batch: int, n: int, seed: int) -> torch.Tensor:
    """The global batch of step `step`: positions step*batch.. of an endless run of per-epoch permutations."""
    out, pos = [], step * batch
    perms: dict[int, torch.Tensor] = {}
    for p in range(pos, pos + batch):
        epoch = p // n
        if epoch not in perms:
            perms[epoch] = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        out.append(perms[epoch][p % n])
    return torch.stack(out)


def native_cpu_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX); elsewhere bf16 is emulated, and slow."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's own checks
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def uses_bf16(precision: str, device: torch.device, cpu_bf16: bool = False) -> bool:
    """Whether work may run under bf16 autocast on `device`: as `precision` asks, or ("auto") on GPUs and, for
    work that can gain from it (`cpu_bf16`), on CPUs with native bf16, where `bf16_is_faster` then decides."""
    if precision != "auto":
        return precision == "bf16"
    return device.type == "cuda" or (device.type == "cpu" and cpu_bf16 and native_cpu_bf16())


def cpu_bf16_is_measured(precision: str, device: torch.device, cpu_bf16: bool) -> bool:
    """Whether bf16 is a candidate that only a timing can settle: "auto" work on a CPU with native bf16."""
    return precision == "auto" and device.type == "cpu" and uses_bf16(precision, device, cpu_bf16)


def bf16_is_faster(work: Callable[[], Any], repeats: int = 2) -> bool:
    """Whether `work` runs faster on this CPU under bf16 autocast than in fp32, timed (best of `repeats`, after
    a warm-up call each). Native bf16 alone does not say: an Intel Xeon with AMX ran the demo's VAE step 1.4x
    faster in bf16, one with AVX512-BF16 but no AMX 1.5x slower (RESULTS.md, 2026-12-02 and 12-03)."""

    def best(bf16: bool) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            work()  # first calls create the oneDNN primitives
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                work()
                times.append(time.perf_counter() - start)
        return min(times)

    with torch.random.fork_rng():  # the timing draws nothing from the run's random streams
        return best(True) < best(False)


def step_generator(seed: int, step: int, stage: str) -> torch.Generator:
    """The generator of everything random in one step (same on every rank)."""
    return torch.Generator().manual_seed((seed * 7919 + step) * 31 + sum(stage.encode()))


class TrainingLoop:
    """Train `model` with `loss_fn` on `n_items` items; checkpoints to `folder/state-<stage>.pt`."""

    def __init__(self, spec: StageSpec, model: torch.nn.Module, loss_fn: LossFn, n_items: int, par: Parallel,
                 folder: Path, reporter: Reporter = SILENT, stop_after: int | None = None):  # fmt: skip
        if spec.batch % par.world_size:
            raise ValueError(f"global batch {spec.batch} must divide by the {par.world_size} ranks")
        self.spec, self.loss_fn, self.n, self.par, self.reporter = spec, loss_fn, n_items, par, reporter
        self.model = par.wrap(model)
        self.stop_after = stop_after  # stop (as if interrupted) after this many steps in this process: tests
        params = [p for p in self.model.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim >= 2]
        flat = [p for p in params if p.ndim < 2]  # norms and biases: no weight decay
        groups = [{"params": decay, "weight_decay": spec.weight_decay}, {"params": flat, "weight_decay": 0.0}]
        # one kernel for the whole update: on a CPU 4x faster than the per-tensor loop (2.3 ms against 9.7 ms a
        # step for the demo's denoiser)
        fused = par.device.type in ("cuda", "cpu")
        self.opt = torch.optim.AdamW(groups, lr=spec.lr, betas=(0.9, 0.99), eps=1e-8, fused=fused)
        self.ema = [p.detach().clone().float() for p in params] if spec.ema_decay else None
        self.params = params
        self.path = folder / f"state-{spec.name}.pt"
        self.result = StageResult(batch=spec.batch)
        self.step = 0
        self.elapsed = 0.0
        self.resumed_precision: str | None = None  # a resumed stage keeps the precision it began in

    # -- schedule ---------------------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        """Linear warmup, then cosine decay to a tenth over the planned steps."""
        spec, planned = self.spec, max(1, self.result.planned)
        if step < spec.warmup:
            return spec.lr * (step + 1) / spec.warmup
        progress = min(1.0, (step - spec.warmup) / max(1, planned - spec.warmup))
        return spec.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    def _plan(self, spent: float, seconds_per_step: float) -> None:
        """With a time budget, set the step count from the measured speed (it is part of the saved state)."""
        if self.spec.seconds and seconds_per_step > 0:
            fit = self.step + int((self.spec.seconds - spent) / seconds_per_step)
            low = max(self.spec.warmup + 1, self.step + 1, min(self.spec.min_steps, self.spec.steps))
            self.result.planned = self.par.broadcast(max(low, min(self.spec.steps, fit)))

    # -- the loop -----------------------------------------------------------------------------------------
    def run(self) -> StageResult:
        """Train to the planned step count, resuming from the stage's checkpoint when there is one."""
        self.result.planned = self.spec.steps
        self._resume()
        self.result.resumed_from = self.step
        autocast = self._autocast()
        self.result.precision = "bf16" if autocast else "fp32"
        self._begin_bar()
        ran, start, window = 0, time.perf_counter(), time.perf_counter()
        mark, marked_at, plan_at = start, 0, PLAN_AT  # speed is timed from step `marked_at` (at time `mark`)
        while self.step < self.result.planned:
            if self.stop_after is not None and ran >= self.stop_after:
                if self.step % self.spec.checkpoint_every:  # a graceful stop keeps every step it ran
                    self.save(self.elapsed + time.perf_counter() - start)
                break
            loss = self._one_step(autocast)
            self.step += 1
            ran += 1
            self.result.losses.append(loss)
            if ran == PLAN_FROM:
                mark, marked_at = time.perf_counter(), ran  # the first steps are slow (allocations, caches)
            if self.spec.seconds and ran == min(plan_at, self.result.planned - 1):
                now = time.perf_counter()
                per_step = (now - mark) / (ran - marked_at) if ran > marked_at else 0.0
                before = self.result.planned
                self._plan(self.elapsed + now - start, per_step)
                mark, marked_at, plan_at = now, ran, min(2 * plan_at, plan_at + REPLAN_EVERY)
                if self.result.planned != before:  # the bar's total changed: restart it where training stands
                    self.reporter.end()
                    self._begin_bar()
            rate = self.spec.batch / max(1e-9, time.perf_counter() - window)
            window = time.perf_counter()
            self.reporter.step(f"loss {loss:.4f} · {rate:.1f} samples/s")
            if self.step % self.spec.checkpoint_every == 0 or self.step == self.result.planned:
                self.save(self.elapsed + time.perf_counter() - start)
        self.reporter.end()
        self.elapsed += time.perf_counter() - start
        self.result.steps, self.result.seconds = self.step, self.elapsed
        return self.result

    def _autocast(self) -> bool:
        """Whether steps run under bf16 autocast: as resumed (a run keeps its precision), as the spec and device
        say, or, where only a timing can say (`cpu_bf16_is_measured`), as step 0's batch runs faster."""
        spec, par = self.spec, self.par
        if self.resumed_precision is not None:
            return self.resumed_precision == "bf16"
        if not cpu_bf16_is_measured(spec.precision, par.device, spec.cpu_bf16):
            return uses_bf16(spec.precision, par.device, spec.cpu_bf16)

        def forward_backward() -> None:
            self.model.train()
            self.loss_fn(self.model, *self._step_inputs(0)).backward()

        faster = bf16_is_faster(forward_backward)
        self.opt.zero_grad(set_to_none=True)  # the timing's gradients; the weights are untouched
        return bool(par.broadcast(int(faster)))  # every rank computes alike

    def _begin_bar(self) -> None:
        """A progress bar over the planned steps, already advanced to the current one."""
        self.reporter.begin(f"training {self.spec.name}", self.result.planned)
        for _ in range(self.step):
            self.reporter.step()

    def _step_inputs(self, step: int) -> tuple[torch.Tensor, slice, torch.Generator]:
        """Step `step`'s global batch indices, this rank's slice of it, and the step's generator."""
        spec, rank = self.spec, self.par.rank
        local = spec.batch // self.par.world_size
        idx = batch_indices(step, spec.batch, self.n, spec.seed)
        return idx, slice(rank * local, (rank + 1) * local), step_generator(spec.seed, step, spec.name)

    def _one_step(self, autocast: bool) -> float:
        idx, part, gen = self._step_inputs(self.step)
        for g in self.opt.param_groups:
            g["lr"] = self.lr_at(self.step)
        self.model.train()
        with torch.autocast(self.par.device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = self.loss_fn(self.model, idx, part, gen)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if self.ema is not None:
            decay = min(self.spec.ema_decay, (1 + self.step) / (10 + self.step))
            with torch.no_grad():
                torch._foreach_lerp_(self.ema, [p.detach().float() for p in self.params], 1 - decay)
        return float(self.par.mean(loss.detach().float()))

    # -- weights and checkpoints --------------------------------------------------------------------------
    def ema_state_dict(self) -> dict[str, torch.Tensor]:
        """The model's state dict with EMA weights in place of the trained ones (all ranks take part)."""
        if self.ema is None:
            return self.par.full_state_dict(self.model)
        live = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, e in zip(self.params, self.ema, strict=True):
                p.copy_(e)
        state = self.par.full_state_dict(self.model)  # copies, kept when the live weights go back
        with torch.no_grad():
            for p, w in zip(self.params, live, strict=True):
                p.copy_(w)
        return state

    def save(self, elapsed: float) -> None:
        """Write the stage's full training state (rank 0 writes; every rank gathers)."""
        state = {
            "step": self.step,
            "planned": self.result.planned,
            "losses": self.result.losses,
            "elapsed": elapsed,
            "model": self.par.full_state_dict(self.model),
            "optimizer": self.par.optimizer_state(self.model, self.opt),
            "ema": [full_tensor(e) for e in self.ema] if self.ema is not None else None,
            "rng": torch.get_rng_state(),
            "spec": self.spec.__dict__,
            "precision": self.result.precision,
        }
        if self.par.is_main:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            torch.save(state, tmp)
            os.replace(tmp, self.path)  # atomic: an interrupted save leaves the previous checkpoint
        self.par.barrier()

    def _resume(self) -> None:
        if not self.path.exists():
            return
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        if state["spec"] != self.spec.__dict__:
            return  # a different stage configuration: start over rather than mix runs
        self.par.load_full_state_dict(self.model, state["model"])
        self.par.load_optimizer_state(self.model, self.opt, state["optimizer"])
        if self.ema is not None and state["ema"] is not None:
            with torch.no_grad():
                for e, saved in zip(self.ema, state["ema"], strict=True):
                    load_full_tensor(e, saved)
        torch.set_rng_state(state["rng"])
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.result.planned, self.result.losses = state["planned"], list(state["losses"])
        self.resumed_precision = state.get("precision")

    @property
    def finished(self) -> bool:
        return self.step >= self.result.planned
