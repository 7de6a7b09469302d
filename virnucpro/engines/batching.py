"""Length-sorted token-budget batching, and feeding batches to the device ahead of compute.

A batch's cost is its padded size ``max_len * count``; sorting by length keeps padding small,
and the budget keeps activations (and attention's ``T x T`` scores) inside memory. Batches are
built (padded, pinned, copied to the GPU) in a background thread while the previous batch
computes, and results come back in input order.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from virnucpro.errors import InputError, RunFailure
from virnucpro.pipeline.shards import prefetch

CPU_TOKEN_BUDGET = 1024
"""Padded tokens a batch on the CPU: measured best for ESM-2 t12_35M and the tiny preset on a
2-core AVX-512 machine (scripts/perf_esm_ceiling.py): larger batches spill the FFN activations
out of cache and the memory-bound elementwise ops slow down more than the matmuls speed up."""
CUDA_TOKEN_BUDGET = 32768
"""Padded tokens a batch on a GPU: fills an H100 with ESM-2 3B in bf16 with room to spare."""
DEFAULT_TOKEN_BUDGETS: dict[str, int] = {"cpu": CPU_TOKEN_BUDGET, "cuda": CUDA_TOKEN_BUDGET}
PREFETCH_BATCHES = 2
"""Batches prepared ahead of the one computing (host memory holds this many extra)."""

Tensors = tuple[torch.Tensor, ...]


def default_token_budget(device: torch.device | str) -> int:
    """The named default budget of ``device``'s kind (the CPU's for unknown kinds)."""
    return DEFAULT_TOKEN_BUDGETS.get(torch.device(device).type, CPU_TOKEN_BUDGET)


def check_token_budget(budget: int) -> int:
    """``budget`` when it is a positive integer; otherwise an InputError."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise InputError(f"token budget must be a positive integer (got {budget!r})")
    return budget


MAX_TOKENS_FLAG = "--max-tokens"


class BatchOutOfMemory(RunFailure):
    """A batch did not fit in the device's memory (exit 1): the message names its size in
    padded tokens and how to make batches smaller."""

    def __init__(self, tokens: int, rows: int, budget: int | None, device: object) -> None:
        self.tokens, self.rows, self.budget = tokens, rows, budget
        super().__init__(out_of_memory_message(tokens, rows, budget, device))


def out_of_memory_message(tokens: int, rows: int, budget: int | None, device: object) -> str:
    """One line: where memory ran out, the batch's size in tokens, and what to change."""
    where = f"out of memory on {device}"
    if rows == 1:
        return (
            f"{where} in a batch of one sequence of {tokens} tokens: a smaller "
            f"{MAX_TOKENS_FLAG} cannot split a sequence; use a device with more memory"
        )
    batch = f"{where} in a batch of {tokens} padded tokens ({rows} sequences"
    if budget is None:
        return (
            f"{batch}; the vanilla engine batches as the published tool): use the fast engine, "
            f"whose batch size {MAX_TOKENS_FLAG} sets, or a device with more memory"
        )
    return (
        f"{batch}, {MAX_TOKENS_FLAG} {budget}): run again with a lower {MAX_TOKENS_FLAG}, "
        f"e.g. {MAX_TOKENS_FLAG} {max(1, min(budget, tokens) // 2)}, and --force"
    )


@contextlib.contextmanager
def naming_out_of_memory(
    tokens: int, rows: int, budget: int | None, device: object
) -> Iterator[None]:
    """Turn torch's out-of-memory error inside the block into a :class:`BatchOutOfMemory`."""
    try:
        yield
    except torch.OutOfMemoryError as exc:  # torch.cuda.OutOfMemoryError is the same class
        raise BatchOutOfMemory(tokens, rows, budget, device) from exc


def plan_batches(lengths: Sequence[int] | np.ndarray, budget: int) -> list[np.ndarray]:
    """Indices grouped into batches, longest first, each with ``max_len * count <= budget``.

    Ties keep input order. A sequence longer than the budget gets a batch of its own. The
    longest batch comes first, so a budget too large for the device fails at once.
    """
    sizes = np.asarray(lengths, dtype=np.int64).reshape(-1)
    order = np.argsort(-sizes, kind="stable")  # [N] longest first
    batches = []
    start = 0
    while start < len(order):
        count = max(1, budget // max(1, int(sizes[order[start]])))
        batches.append(order[start : start + count])
        start += count
    return batches


def padded_size(lengths: Sequence[int] | np.ndarray, batch: np.ndarray) -> int:
    """The padded token count ``max_len * count`` of one batch."""
    sizes = np.asarray(lengths, dtype=np.int64)[batch]
    return int(sizes.max(initial=0)) * len(batch)


@dataclass(frozen=True)
class Ragged:
    """Token ids of many sequences kept flat (ids, lengths, offsets), padded per batch."""

    flat: np.ndarray  # [total] int64
    lengths: np.ndarray  # [N] int64
    offsets: np.ndarray  # [N] int64, start of each row in ``flat``

    @classmethod
    def from_lists(cls, rows: Sequence[Sequence[int]]) -> Ragged:
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        total = int(lengths.sum())
        flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=total)
        return cls(flat=flat, lengths=lengths, offsets=np.cumsum(lengths) - lengths)

    def padded(self, batch: np.ndarray, pad_id: int) -> Tensors:
        """``(ids [B, T], attention_mask [B, T])`` of the rows in ``batch``, right-padded."""
        lengths = self.lengths[batch]  # [B]
        width = int(lengths.max(initial=0))
        ids = np.full((len(batch), width), pad_id, dtype=np.int64)  # [B, T]
        rows = np.repeat(np.arange(len(batch)), lengths)  # [n] row of each token
        cols = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ids[rows, cols] = self.flat[np.repeat(self.offsets[batch], lengths) + cols]
        mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)  # [B, T]
        return torch.from_numpy(ids), torch.from_numpy(mask)


@dataclass(frozen=True)
class ReadyBatch:
    """A batch's input tensors on the device; ``ready`` marks the end of their copy (CUDA)."""

    indices: np.ndarray
    tensors: Tensors
    ready: torch.cuda.Event | None = None

    def wait(self) -> Tensors:
        """The tensors, once the compute stream has waited for their copy."""
        if self.ready is not None:
            stream = torch.cuda.current_stream(self.tensors[0].device)
            stream.wait_event(self.ready)
            for tensor in self.tensors:
                tensor.record_stream(stream)  # the allocator must not reuse them early
        return self.tensors


def _to_device(
    tensors: Tensors, device: torch.device, stream: torch.cuda.Stream | None
) -> tuple[Tensors, torch.cuda.Event | None]:
    if stream is None:
        return tuple(t.to(device) for t in tensors), None
    with torch.cuda.stream(stream):
        moved = tuple(t.pin_memory().to(device, non_blocking=True) for t in tensors)
        event = torch.cuda.Event()
        event.record(stream)
    return moved, event


def staged_batches(
    plan: Sequence[np.ndarray], make: Callable[[np.ndarray], Tensors], device: torch.device
) -> Iterator[ReadyBatch]:
    """Build each batch with ``make`` and copy it to ``device``, in a background thread.

    Batch ``i + 1`` is padded, pinned and copied (on a side CUDA stream) while batch ``i``
    computes; on the CPU only the host work overlaps.
    """
    stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def produce() -> Iterator[ReadyBatch]:
        for indices in plan:
            tensors, ready = _to_device(make(indices), device, stream)
            yield ReadyBatch(indices=indices, tensors=tensors, ready=ready)

    return prefetch(produce(), depth=PREFETCH_BATCHES)  # type: ignore[arg-type]


def run_batches(
    plan: Sequence[np.ndarray],
    make: Callable[[np.ndarray], Tensors],
    compute: Callable[..., torch.Tensor],
    device: torch.device,
    budget: int | None = None,
) -> torch.Tensor:
    """``compute(indices, *inputs)`` per batch (rows ``[B, D]``), returned as float32 CPU rows
    in input order. One copy back to the host at the end, not one per batch. ``indices`` (the
    batch's rows, on the host) lets ``compute`` decide from host data what it would otherwise
    have to read back from the device. Running out of memory in a batch is a
    :class:`BatchOutOfMemory` naming its padded size and ``budget``."""
    pooled = []
    with torch.inference_mode():
        for batch in staged_batches(plan, make, device):
            inputs = batch.wait()
            with naming_out_of_memory(inputs[0].numel(), len(batch.indices), budget, device):
                pooled.append(compute(batch.indices, *inputs))
    return scatter_rows(plan, pooled)


def scatter_rows(plan: Sequence[np.ndarray], rows: Sequence[torch.Tensor]) -> torch.Tensor:
    """Rows computed batch by batch, put back in input order (float32, CPU)."""
    indices = torch.from_numpy(np.concatenate(plan))
    vectors = torch.cat(list(rows)).to("cpu", torch.float32)
    out = torch.empty_like(vectors)
    out[indices] = vectors
    return out
