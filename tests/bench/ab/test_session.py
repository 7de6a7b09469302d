from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pynvml
import pytest

from tests.bench.ab_records import round_sample, side_info, tiny_spec
from tests.bench.fakes import FakeNvml
from virnucpro.bench.ab import session as ab
from virnucpro.bench.ab import worker as ab_worker
from virnucpro.bench.ab.schema import RoundProtocol, RoundSample, SideInfo
from virnucpro.bench.ab.worker_process import Worker
from virnucpro.bench.workload.reads import make_reads, write_fasta

REPO = Path(__file__).resolve().parents[3]
ROUND_COUNTS = {
    "seconds": 1.0,
    "cpu_seconds": 1.0,
    "reads": 4,
    "bases": 1200,
    "kept_frames": 24,
    "dnabert_tokens": 500,
    "esm_tokens": 900,
    "stages": {"dnabert": 0.2},
}


# ----------------------------------------------------------------------------- round figures

FAST = 0.002  # poll interval of the probe tests: readings come quickly
GIB = 2**30
UUID = "GPU-abcd0-0000"


class Counter:
    """A reader returning the next of ``values`` (the last repeats), counting its calls."""

    def __init__(self, *values: float) -> None:
        self.values = values
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.values[min(self.calls, len(self.values)) - 1]

    def wait_for(self, calls: int) -> None:
        deadline = time.monotonic() + 10.0
        while self.calls < calls and time.monotonic() < deadline:
            time.sleep(FAST)
        assert self.calls >= calls, f"only {self.calls} readings"


class UuidNvml(FakeNvml):
    """FakeNvml that finds devices by UUID and reports the utilization ``level``."""

    def __init__(self) -> None:
        super().__init__()
        self.level = 40
        self.readings = 0
        self.broken = False

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> int:
        if uuid != UUID:
            raise pynvml.NVMLError_NotFound()
        return 0

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:
        if self.broken:
            raise pynvml.NVMLError_GpuIsLost()
        self.readings += 1
        return SimpleNamespace(gpu=self.level, memory=0)


class FakePeaks:
    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def read(self) -> tuple[int, int]:
        return 3 * GIB, 4 * GIB


def _cpu_setup(rss: Counter, interval: float = FAST) -> ab_worker.ProbeSetup:
    return ab_worker.ProbeSetup(
        rss=rss,
        rss_reason=None,
        cuda=None,
        cuda_reason=ab_worker.ON_CPU,
        utilization=None,
        utilization_reason=ab_worker.ON_CPU,
        interval=interval,
    )


def _gpu_setup(nvml: UuidNvml, peaks: FakePeaks, interval: float = FAST) -> ab_worker.ProbeSetup:
    util, why = ab_worker.utilization_reader(nvml, UUID)
    assert util is not None, why
    return ab_worker.ProbeSetup(
        rss=Counter(GIB),
        rss_reason=None,
        cuda=peaks,  # type: ignore[arg-type]
        cuda_reason=None,
        utilization=util,
        utilization_reason=None,
        interval=interval,
    )


def _wait_readings(nvml: UuidNvml, count: int) -> None:
    deadline = time.monotonic() + 10.0
    while nvml.readings < count and time.monotonic() < deadline:
        time.sleep(FAST)


def test_on_the_cpu_a_round_has_its_peak_rss_and_says_why_the_rest_is_missing() -> None:
    rss = Counter(1.0 * GIB, 3.0 * GIB, 2.0 * GIB)
    with ab_worker.RoundProbe(_cpu_setup(rss)) as probe:
        rss.wait_for(3)  # the start reading and two polls
    figures = probe.figures()
    assert figures["host_peak_rss"] == 3 * GIB
    assert figures["cuda_peak_allocated"] is None and figures["gpu_utilization"] is None
    assert figures["unmeasured"] == {
        "cuda_peak_allocated": ab_worker.ON_CPU,
        "cuda_peak_reserved": ab_worker.ON_CPU,
        "gpu_utilization": ab_worker.ON_CPU,
    }
    sample = RoundSample.model_validate({**ROUND_COUNTS, **figures})
    assert sample.why_unmeasured("gpu_utilization") == ab_worker.ON_CPU


def test_gpu_utilization_is_the_mean_of_each_rounds_own_readings() -> None:
    """Two rounds at 40% and 80%: each round's figure is its own mean, never a pool of both."""
    nvml, peaks = UuidNvml(), FakePeaks()
    setup = _gpu_setup(nvml, peaks)
    figures = []
    for level in (40, 80):
        nvml.level, nvml.readings = level, 0
        with ab_worker.RoundProbe(setup) as probe:
            _wait_readings(nvml, 3)
        figures.append(probe.figures())
    assert [f["gpu_utilization"] for f in figures] == [40.0, 80.0]
    assert all(f["gpu_utilization_readings"] >= 3 for f in figures)
    assert figures[0]["cuda_peak_allocated"] == 3 * GIB
    assert figures[0]["cuda_peak_reserved"] == 4 * GIB
    assert figures[0]["unmeasured"] == {} and peaks.resets == 2


def test_a_round_with_fewer_than_two_readings_has_no_utilization() -> None:
    with ab_worker.RoundProbe(_gpu_setup(UuidNvml(), FakePeaks(), interval=3600.0)) as probe:
        pass
    figures = probe.figures()
    assert figures["gpu_utilization"] is None and figures["gpu_utilization_readings"] == 0
    assert figures["unmeasured"]["gpu_utilization"].startswith("0 NVML reading(s) in the round")


def test_an_nvml_failure_inside_a_round_is_the_rounds_reason() -> None:
    nvml = UuidNvml()
    setup = _gpu_setup(nvml, FakePeaks())
    nvml.broken = True
    with ab_worker.RoundProbe(setup) as probe:
        time.sleep(20 * FAST)
    figures = probe.figures()
    assert figures["gpu_utilization"] is None
    assert "NVMLError_GpuIsLost" in figures["unmeasured"]["gpu_utilization"]


def test_nvml_that_cannot_find_the_device_says_why() -> None:
    assert ab_worker.utilization_reader(UuidNvml(), "GPU-other")[1].startswith("NVML has no")
    assert "no UUID" in ab_worker.utilization_reader(UuidNvml(), None)[1]
    broken = FakeNvml(init_error=pynvml.NVMLError_DriverNotLoaded())
    assert ab_worker.utilization_reader(broken, UUID)[1].startswith("NVML did not start")


def test_torch_device_uuids_get_nvmls_prefix() -> None:
    def torch_with(uuid: object) -> SimpleNamespace:
        props = SimpleNamespace(uuid=uuid) if uuid is not None else SimpleNamespace()
        return SimpleNamespace(cuda=SimpleNamespace(get_device_properties=lambda d: props))

    assert ab_worker.cuda_uuid(torch_with("abcd0-0000"), 0) == UUID
    assert ab_worker.cuda_uuid(torch_with(UUID), 0) == UUID
    assert ab_worker.cuda_uuid(torch_with(None), 0) is None


@pytest.mark.slow
def test_a_real_worker_answers_a_round_with_its_figures(tmp_path: Path) -> None:
    """The worker source run as A/B runs it, tiny models on the CPU, one round."""
    workload = write_fasta(make_reads(4, expected_length=300), tmp_path / "reads.fa")
    spec = tiny_spec(workload)
    worker = Worker("head", REPO, spec, tmp_path / "work")
    try:
        assert worker.wait_ready().package == str(REPO / "virnucpro")
        sample = worker.round()
    finally:
        worker.close()
    assert sample.reads == 4 and sample.seconds > 0
    assert sample.host_peak_rss is not None and sample.host_peak_rss > 10 * 2**20
    assert sample.cuda_peak_allocated is None and sample.gpu_utilization is None
    assert sample.why_unmeasured("cuda_peak_reserved") == ab_worker.ON_CPU


# ----------------------------------------------------------------------------- the round protocol


class FakeWorker:
    """A worker that answers rounds at once and remembers its pins and round commands."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.pins: list[int] = []
        self.protocols: list[RoundProtocol | None] = []
        self.outdir = Path("no-outputs-written")  # where the session reads a side's outputs
        self.collected: list[bool] = []
        self.collections = 0

    def wait_ready(self) -> SideInfo:
        return side_info()

    def round(
        self, protocol: RoundProtocol | None = None, *, collected: bool = False
    ) -> RoundSample:
        self.protocols.append(protocol)
        self.collected.append(collected)
        return round_sample(0.2, 0.1)

    def collect(self) -> None:
        self.collections += 1

    def pin(self, cpu: int) -> None:
        self.pins.append(cpu)

    def close(self) -> None:
        pass

    generation = 0
    stopped = False
    next: FakeWorker | None = None

    def successor(self) -> FakeWorker:
        self.next = FakeWorker()
        self.next.generation = self.generation + 1
        return self.next

    def stop(self) -> None:
        self.stopped = True


def _session(
    protocol: RoundProtocol, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, owns: bool = False
):
    from virnucpro.bench.ab import pinning

    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(pinning.os, "sched_setaffinity", lambda pid, cpus: None, raising=False)
    workers = {"base": FakeWorker(), "head": FakeWorker()}
    session = ab.ABSession(
        ref="main",
        workers=workers,  # type: ignore[arg-type]
        spec=tiny_spec(tmp_path / "w.fa"),
        seed=4,
        owns=owns,
        protocol=protocol,
    )
    return session, workers


def test_abba_order_balances_every_two_pairs(tmp_path: Path, monkeypatch) -> None:
    session, _ = _session(RoundProtocol(order="abba"), tmp_path, monkeypatch)
    with session:
        session.run_pairs(12)
        record = session.record()
    firsts = [r.first for r in record.rounds]
    assert all(firsts[i] != firsts[i + 1] for i in range(0, 12, 2))
    assert firsts.count("base") == 6
    assert record.protocol is not None and record.protocol.order == "abba"


def test_random_order_is_drawn_per_pair(tmp_path: Path, monkeypatch) -> None:
    session, _ = _session(RoundProtocol(order="random"), tmp_path, monkeypatch)
    with session:
        session.run_pairs(40)
        firsts = [r.first for r in session.record().rounds]
    assert any(firsts[i] == firsts[i + 1] for i in range(0, 40, 2))


def test_split_pinning_gives_each_side_each_cpu_in_each_position(
    tmp_path: Path, monkeypatch
) -> None:
    protocol = RoundProtocol(order="abba", pin_cpus="split", gc_off=True, repeat=2)
    session, workers = _session(protocol, tmp_path, monkeypatch)
    with session:
        session.warm_up(1)
        session.run_pairs(8)
        record = session.record()
    assert [r.cpus for r in record.rounds[:4]] == [
        {"base": 0, "head": 1},
        {"base": 0, "head": 1},
        {"base": 1, "head": 0},
        {"base": 1, "head": 0},
    ]
    combos = {(r.first, r.cpus["base"]) for r in record.rounds[:4] if r.cpus}
    assert len(combos) == 4  # base first and second on each CPU within four pairs
    assert workers["base"].pins == [0, 1, 0, 1]  # re-pinned only when its CPU changes
    sent = workers["head"].protocols
    assert len(sent) == 9 and all(p is not None and p.repeat == 2 and p.gc_off for p in sent)
    # the collection happens before each pair, outside the rounds the harness's clock times
    assert workers["head"].collections == 8
    assert workers["head"].collected == [False] + [True] * 8  # the warm-up collects itself
    assert record.protocol is not None and record.protocol.pin_cpus == "split"


def test_timed_round_repeats_predicts_and_turns_the_collector_off() -> None:
    import gc

    seen: list[bool] = []
    stages = iter([{"dnabert": 0.1, "esm": 0.3}, {"dnabert": 0.3, "esm": 0.1}])

    def metrics() -> dict:
        return {**ROUND_COUNTS, "stages": next(stages)}

    answer = ab_worker.timed_round(
        lambda: seen.append(gc.isenabled()), metrics, repeat=2, gc_off=True, sync=lambda: None
    )
    assert seen == [False, False] and gc.isenabled()
    assert answer["predicts"] == 2
    assert answer["stages"] == pytest.approx({"dnabert": 0.2, "esm": 0.2})
    assert answer["seconds"] >= 0 and answer["cpu_seconds"] >= 0
    on = ab_worker.timed_round(
        lambda: seen.append(gc.isenabled()),
        lambda: dict(ROUND_COUNTS),
        repeat=1,
        gc_off=False,
        sync=lambda: None,
    )
    assert seen[-1] is True and on["predicts"] == 1


def test_a_real_worker_repeats_predicts_in_a_round(tmp_path: Path) -> None:
    workload = write_fasta(make_reads(4, expected_length=300), tmp_path / "reads.fa")
    worker = Worker("head", REPO, tiny_spec(workload), tmp_path / "work")
    try:
        worker.wait_ready()
        sample = worker.round(RoundProtocol(repeat=2, gc_off=True))
        worker.collect()
        collected = worker.round(RoundProtocol(repeat=1, gc_off=True), collected=True)
    finally:
        worker.close()
    assert sample.predicts == 2 and sample.reads == 4 and sample.seconds > 0
    # the harness's clock, per predict, holds the worker's own timing
    assert sample.harness_seconds is not None and sample.harness_seconds >= sample.seconds
    assert collected.harness_seconds is not None and collected.harness_seconds >= collected.seconds


def test_fresh_workers_replace_both_sides_every_so_many_pairs(tmp_path: Path, monkeypatch) -> None:
    protocol = RoundProtocol(order="abba", fresh_workers_every=4)
    session, first = _session(protocol, tmp_path, monkeypatch, owns=True)
    with session:
        session.warm_up(2)
        session.run_pairs(10)
        record = session.record()
    assert [r.workers for r in record.rounds] == [0] * 4 + [1] * 4 + [2] * 2
    assert len(record.restart_seconds) == 2 and all(s >= 0 for s in record.restart_seconds)
    for side in ("base", "head"):
        second = first[side].next
        assert first[side].stopped and second is not None and second.stopped
        assert second.next is not None and not second.next.stopped  # the last pair still runs
        assert len(second.protocols) == 2 + 4  # warmed up as the first pair was, then 4 pairs
    assert record.protocol is not None and record.protocol.fresh_workers_every == 4
    assert record.worker_pairs == 3
    total = record.paired_metrics()[0]
    assert total.workers == tuple(r.workers for r in record.rounds)


def test_a_session_over_anothers_workers_never_replaces_them(tmp_path: Path, monkeypatch) -> None:
    session, workers = _session(RoundProtocol(fresh_workers_every=2), tmp_path, monkeypatch)
    with session:
        session.run_pairs(6)
        record = session.record()
    assert not workers["base"].stopped and workers["base"].next is None
    assert {r.workers for r in record.rounds} == {0} and record.restart_seconds == ()
    assert record.protocol is not None and record.protocol.fresh_workers_every is None
    assert record.paired_metrics()[0].workers == ()  # judged as one pair of workers


@pytest.mark.slow
def test_real_workers_are_replaced_and_the_outputs_still_compare(tmp_path: Path) -> None:
    workload = write_fasta(make_reads(4, expected_length=300), tmp_path / "reads.fa")
    session = ab.ABSession.start(
        ref="main",
        base_root=REPO,
        head_root=REPO,
        spec=tiny_spec(workload),
        workdir=tmp_path / "work",
        seed=3,
        protocol=RoundProtocol(order="abba", fresh_workers_every=2),
    )
    with session:
        session.warm_up(1)
        session.run_pairs(5)
        session.keep_outputs()
        record = session.record()
    assert [r.workers for r in record.rounds] == [0, 0, 1, 1, 2]
    assert (tmp_path / "work" / "head-worker-2.log").is_file()
    assert record.check_outputs().status == "same"
