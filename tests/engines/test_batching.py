"""Token-budget batching, ragged padding, background staging and scattering back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro.engines.batching import (
    CPU_TOKEN_BUDGET,
    CUDA_TOKEN_BUDGET,
    BatchOutOfMemory,
    Ragged,
    check_token_budget,
    default_token_budget,
    out_of_memory_message,
    padded_size,
    plan_batches,
    run_batches,
    scatter_rows,
    staged_batches,
)
from virnucpro.errors import InputError

CPU = torch.device("cpu")
lengths_strategy = st.lists(st.integers(min_value=1, max_value=600), max_size=200)
budget_strategy = st.integers(min_value=1, max_value=5000)


@settings(max_examples=200, deadline=None)
@given(lengths=lengths_strategy, budget=budget_strategy)
def test_plan_covers_every_index_once_within_budget(lengths: list[int], budget: int) -> None:
    plan = plan_batches(lengths, budget)
    flat = np.concatenate(plan) if plan else np.empty(0, dtype=np.int64)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    for batch in plan:
        assert len(batch) >= 1
        assert padded_size(lengths, batch) <= budget or len(batch) == 1


@settings(max_examples=100, deadline=None)
@given(lengths=lengths_strategy, budget=budget_strategy)
def test_plan_is_longest_first_and_fills_each_batch(lengths: list[int], budget: int) -> None:
    plan = plan_batches(lengths, budget)
    sizes = np.asarray(lengths)
    maxima = [int(sizes[b].max()) for b in plan]
    assert maxima == sorted(maxima, reverse=True)
    for batch in plan[:-1]:  # a batch closes only when one more sequence would not fit
        assert padded_size(lengths, batch) + int(sizes[batch].max()) > budget


def test_plan_puts_an_over_budget_sequence_alone_and_keeps_input_order_on_ties() -> None:
    plan = plan_batches([5, 50, 5, 5], budget=12)
    assert [b.tolist() for b in plan] == [[1], [0, 2], [3]]


def test_plan_of_nothing_is_empty() -> None:
    assert plan_batches([], budget=10) == []


@pytest.mark.parametrize("bad", [0, -3, True, 2.5, "8"])
def test_token_budget_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(InputError, match="token budget"):
        check_token_budget(bad)  # type: ignore[arg-type]


def test_default_budget_is_named_per_device_kind() -> None:
    assert default_token_budget("cpu") == CPU_TOKEN_BUDGET
    assert default_token_budget("cuda:1") == CUDA_TOKEN_BUDGET
    assert default_token_budget("meta") == CPU_TOKEN_BUDGET


rows_strategy = st.lists(st.lists(st.integers(0, 90), min_size=1, max_size=12), max_size=20)


@settings(max_examples=100, deadline=None)
@given(rows=rows_strategy, data=st.data())
def test_ragged_padding_keeps_each_row_and_masks_the_rest(
    rows: list[list[int]], data: st.DataObject
) -> None:
    ragged = Ragged.from_lists(rows)
    batch = np.asarray(data.draw(st.permutations(range(len(rows)))), dtype=np.int64)
    ids, mask = ragged.padded(batch, pad_id=99)
    assert ids.shape == mask.shape == (len(rows), max(map(len, rows), default=0))
    for out_row, index in enumerate(batch.tolist()):
        n = len(rows[index])
        assert ids[out_row, :n].tolist() == rows[index]
        assert (ids[out_row, n:] == 99).all()
        assert mask[out_row].tolist() == [1] * n + [0] * (ids.shape[1] - n)


def test_scatter_rows_restores_input_order() -> None:
    plan = [np.array([2, 0]), np.array([3]), np.array([1])]
    rows = [torch.tensor([[2.0], [0.0]]), torch.tensor([[3.0]]), torch.tensor([[1.0]])]
    assert scatter_rows(plan, rows).flatten().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_staged_batches_yield_the_plan_in_order() -> None:
    plan = plan_batches([3, 1, 2, 3], budget=6)
    staged = list(staged_batches(plan, lambda b: (torch.from_numpy(b),), CPU))
    assert [s.indices.tolist() for s in staged] == [b.tolist() for b in plan]
    assert all(s.ready is None and s.wait()[0].tolist() == s.indices.tolist() for s in staged)


def test_an_error_while_building_a_batch_reaches_the_caller() -> None:
    def make(batch: np.ndarray) -> tuple[torch.Tensor, ...]:
        raise RuntimeError("tokenizer broke")

    with pytest.raises(RuntimeError, match="tokenizer broke"):
        list(staged_batches(plan_batches([1, 2], budget=4), make, CPU))


def test_run_batches_returns_float32_rows_in_input_order() -> None:
    values = torch.arange(5, dtype=torch.float64)
    plan = plan_batches([1, 4, 2, 5, 3], budget=5)
    out = run_batches(plan, lambda b: (values[torch.from_numpy(b)],), lambda _, x: x[:, None], CPU)
    assert out.dtype == torch.float32
    assert out.flatten().tolist() == values.tolist()


def test_running_out_of_memory_in_a_batch_names_its_size_and_the_flag() -> None:
    plan = plan_batches([3, 5, 5, 2], budget=10)  # [5, 5], then [3, 2]

    def compute(batch: np.ndarray, ids: torch.Tensor) -> torch.Tensor:
        if len(batch) == 2 and ids.shape[1] == 3:  # the second batch
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return ids.float()

    def make(batch: np.ndarray) -> tuple[torch.Tensor]:
        return (torch.zeros(len(batch), int(np.asarray([3, 5, 5, 2])[batch].max())),)

    with pytest.raises(BatchOutOfMemory) as caught:
        run_batches(plan, make, compute, CPU, 10)
    error = caught.value
    assert (error.tokens, error.rows, error.budget) == (6, 2, 10)
    assert str(error) == (
        "out of memory on cpu in a batch of 6 padded tokens (2 sequences, --max-tokens 10): "
        "run again with a lower --max-tokens, e.g. --max-tokens 3, and --force"
    )
    assert isinstance(error.__cause__, torch.OutOfMemoryError)
    assert error.exit_code == 1


def test_out_of_memory_messages_say_what_a_smaller_budget_cannot_do() -> None:
    one = out_of_memory_message(900, 1, 512, "cuda:0")
    assert "one sequence of 900 tokens" in one and "cannot split" in one
    vanilla = out_of_memory_message(2048, 12, None, "cuda:0")
    assert "2048 padded tokens (12 sequences" in vanilla and "fast engine" in vanilla
    for message in (one, vanilla):
        assert "\n" not in message and "--max-tokens" in message


@pytest.mark.gpu
def test_staged_batches_copy_to_the_gpu_ahead_of_use() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    device = torch.device("cuda")
    plan = plan_batches([4, 3, 2, 1], budget=4)
    for staged in staged_batches(plan, lambda b: (torch.from_numpy(b),), device):
        (tensor,) = staged.wait()
        assert staged.ready is not None
        assert tensor.device.type == "cuda"
        assert tensor.cpu().tolist() == staged.indices.tolist()
