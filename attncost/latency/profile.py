"""``attncost profile``: time the kernels a cost-model graph becomes, on this machine.

A profile is one JSON file: which machine (processor, cores, operating system), the torch
version, the thread counts, the date, how each time was taken, and the measurements — per
kernel kind (:data:`attncost.latency.kernels.KINDS`) and thread count, the features of the
shape and two times: ``fwd_s`` (forward without autograd) and ``train_s`` (forward with
autograd plus its backward). A profile made on one machine can be copied to any other and used
there to predict the first machine's latency.

Timing: ``torch.utils.benchmark`` median of blocked runs, the best of ``repeats`` medians
(the lowest median resists interference from other processes on a shared machine), on the
given number of threads; then, in ``rounds`` passes over the whole grid minutes apart, the
lowest of each measurement's passes (a shared machine slows down for seconds at a time —
this project's 2-core VM by up to 1.7× — and back-to-back repeats fall into the same slow
spell). The file is rewritten atomically after every measurement, so Ctrl-C
loses at most the one in progress and a run started again resumes where it stopped.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import AttncostError, ConfigError
from .kernels import Features

FORMAT = "attncost-profile"
VERSION = 1


@dataclass
class Measurement:
    """One kernel at one shape and thread count: median seconds (forward; forward +
    backward) and their interquartile ranges."""

    kind: str
    threads: int
    features: Features
    fwd_s: float
    train_s: float
    fwd_iqr_s: float = 0.0
    train_iqr_s: float = 0.0
    rounds: int = 1

    @property
    def key(self) -> str:
        return measurement_key(self.kind, self.threads, self.features)


def measurement_key(kind: str, threads: int, features: Features) -> str:
    """The identity of a measurement (what resuming skips)."""
    return f"{kind}|{threads}|" + ",".join(f"{k}={features[k]}" for k in sorted(features))


@dataclass
class Profile:
    """A device profile: where and how it was measured, and the measurements."""

    machine: dict[str, Any]
    torch: str
    threads: list[int]
    date: str
    device: str = "cpu"
    dtype: str = "fp32"
    quick: bool = False
    timing: dict[str, Any] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)

    def for_threads(self, threads: int) -> list[Measurement]:
        return [m for m in self.measurements if m.threads == threads]

    def to_json(self) -> dict[str, Any]:
        out = {"format": FORMAT, "version": VERSION, **asdict(self)}
        return out


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """The processor, its cores and the operating system (no names of people or hosts); on a
    CUDA ``device``, its GPU too (:func:`attncost.torch_device.gpu_info`)."""
    from ..torch_device import gpu_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"processor": cpu, "cores": os.cpu_count(), "system": platform.system(),
            "release": platform.release(), "machine": platform.machine(),
            "python": platform.python_version(), **gpu_info(device)}


def device_label(prof: "Profile") -> str:
    """What a profile timed, for titles: the GPU's name on CUDA, else the processor's."""
    return str(prof.machine.get("gpu") or prof.machine.get("processor") or prof.device)


# -- the file --------------------------------------------------------------------------------


def _bad(path: Any, why: str) -> ConfigError:
    return ConfigError(f"profile file {str(path)!r} {why}; write one with `attncost profile "
                       f"-o FILE`")


def _measurement(raw: Any, path: Any, i: int) -> Measurement:
    from ..checks import number

    if not isinstance(raw, dict) or not isinstance(raw.get("features"), dict):
        raise _bad(path, f"has a malformed measurement #{i}")
    try:
        feats = {str(k): int(v) for k, v in raw["features"].items()
                 if not isinstance(v, bool)}
        m = Measurement(str(raw["kind"]), int(raw["threads"]), feats,
                        number(raw["fwd_s"], f"profile {str(path)!r} #{i} fwd_s", minimum=0),
                        number(raw["train_s"], f"profile {str(path)!r} #{i} train_s", minimum=0),
                        float(raw.get("fwd_iqr_s", 0.0)), float(raw.get("train_iqr_s", 0.0)),
                        int(raw.get("rounds", 1)))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, AttncostError):
            raise
        raise _bad(path, f"has a malformed measurement #{i} ({exc})") from None
    return m


def profile_from_json(data: Any, path: Any = "<data>") -> Profile:
    """A :class:`Profile` from its JSON object; one-line errors naming what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(path, "is not an attncost profile (no \"format\": \"attncost-profile\")")
    if data.get("version") != VERSION:
        raise _bad(path, f"has version {data.get('version')!r}; this attncost reads {VERSION}")
    threads = data.get("threads")
    if not isinstance(threads, list) or not threads or not all(
            isinstance(t, int) and not isinstance(t, bool) and t > 0 for t in threads):
        raise _bad(path, f"has threads {threads!r}; expected a list of positive integers")
    raw = data.get("measurements")
    if not isinstance(raw, list):
        raise _bad(path, "has no list of measurements")
    for key in ("machine", "timing"):
        if not isinstance(data.get(key) or {}, dict):
            raise _bad(path, f"has {key} {data[key]!r}; expected an object")
    ms = [_measurement(r, path, i) for i, r in enumerate(raw)]
    return Profile(dict(data.get("machine") or {}), str(data.get("torch", "")), threads,
                   str(data.get("date", "")), str(data.get("device", "cpu")),
                   str(data.get("dtype", "fp32")), bool(data.get("quick", False)),
                   dict(data.get("timing") or {}), ms)


def load_profile(path: str | Path | Profile) -> Profile:
    """The profile in ``path`` (a :class:`Profile` is returned as it is)."""
    if isinstance(path, Profile):
        return path
    if not isinstance(path, (str, Path)):
        raise ConfigError(f"profile {path!r} must be a path to a profile file or a Profile")
    from ..files import read_user_text

    text = read_user_text(path, "profile file")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _bad(path, f"is not JSON ({exc})") from None
    return profile_from_json(data, path)


def save_profile(prof: Profile, path: str | Path) -> None:
    """Write ``prof`` to ``path`` atomically (a temporary file, then a rename)."""
    from ..files import write_atomic

    try:
        write_atomic(path, json.dumps(prof.to_json(), indent=1))
    except OSError as e:
        raise ConfigError(f"cannot write profile {str(path)!r}: {e.strerror or e}") from None


# -- timing ----------------------------------------------------------------------------------


def time_fn(fn: Callable[[], Any], threads: int, min_run_time: float, repeats: int,
            device: str = "cpu") -> tuple[float, float]:
    """(median, IQR) seconds of ``fn`` on ``threads`` threads: the lowest of ``repeats``
    medians of blocked runs — ``torch.utils.benchmark``'s on the CPU, :func:`time_blocks`
    on a GPU."""
    check_timing(min_run_time, repeats)
    fn()  # warm up (allocations, first-call dispatch)
    if device.startswith("cuda"):
        return time_blocks(fn, threads, min_run_time, repeats, device)
    import torch.utils.benchmark as benchmark

    best = None
    for _ in range(repeats):
        m = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads
                            ).blocked_autorange(min_run_time=min_run_time)
        if best is None or m.median < best.median:
            best = m
    return float(best.median), float(best.iqr)


def check_timing(min_run_time: Any, repeats: Any,
                 names: tuple[str, str] = ("min_run_time (seconds)", "repeats")
                 ) -> tuple[float, int]:
    """(``min_run_time``, ``repeats``): seconds in (0, 60] and a count from 1 to 100; a
    one-line error naming the bad one by ``names``."""
    from ..checks import integer, number

    return (number(min_run_time, names[0], positive=True, maximum=60),
            integer(repeats, names[1], maximum=100))


#: A block of back-to-back calls on a GPU lasts at least this long, so that the wait for
#: the GPU at its ends (~10 µs) is under 1 % of it.
GPU_BLOCK_S = 1e-3


def time_blocks(fn: Callable[[], Any], threads: int, min_run_time: float, repeats: int,
                device: str) -> tuple[float, float]:
    """(median, IQR) seconds per call of ``fn`` on a GPU: blocks of back-to-back calls
    (:data:`GPU_BLOCK_S` each or more, the GPU waited for at both ends — the host's launches
    and the GPU's kernels overlap, as in a model), at least 5 blocks and ``min_run_time`` per
    repeat; the lowest of ``repeats`` medians. ``torch.utils.benchmark`` sizes its blocks until
    a wait is 10⁻⁴ of one: 0.1 s blocks on a GPU, each measurement ten times longer."""
    import statistics
    import time

    import torch

    def wait() -> None:  # for the GPU (nothing to wait for on the CPU: the tests time there)
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)

    def block(number: int) -> float:
        wait()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        wait()
        return time.perf_counter() - start

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        number = max(1, min(100_000, math.ceil(GPU_BLOCK_S / max(block(1), 1e-7))))
        best: tuple[float, float] | None = None
        for _ in range(repeats):
            per_call: list[float] = []
            while len(per_call) < 5 or sum(per_call) * number < min_run_time:
                per_call.append(block(number) / number)
            q = statistics.quantiles(per_call, n=4)
            med = statistics.median(per_call)
            if best is None or med < best[0]:
                best = (med, q[2] - q[0])
        assert best is not None
        return best
    finally:
        torch.set_num_threads(previous)


def measure(kind: str, features: Features, threads: int, min_run_time: float = 0.02,
            repeats: int = 3, device: str = "cpu") -> Measurement:
    """Time kernel ``kind`` at ``features`` on ``threads`` threads, on ``device`` (a resolved
    :mod:`attncost.torch_device` name)."""
    from .bench import build

    fwd, train = build(kind, features, device)
    f_med, f_iqr = time_fn(fwd, threads, min_run_time, repeats, device)
    t_med, t_iqr = time_fn(train, threads, min_run_time, repeats, device)
    return Measurement(kind, threads, dict(features), f_med, t_med, f_iqr, t_iqr)


def check_threads(threads: Any) -> list[int]:
    """A thread count or a list of them: positive integers, at most this machine's cores."""
    items = list(threads) if isinstance(threads, (list, tuple)) else [threads]
    cores = os.cpu_count() or 1
    if not items:
        raise ConfigError("threads must name at least one thread count")
    for t in items:
        if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= cores:
            raise ConfigError(f"threads={t!r} must be an integer from 1 to {cores} (this "
                              f"machine's cores)")
    return list(dict.fromkeys(items))


def check_profiled(profiled: list[int], threads: list[Any]) -> list[int]:
    """``threads``, each a positive integer among the ``profiled`` thread counts (a
    one-line error names the first that is not)."""
    have = ", ".join(map(str, profiled))
    for t in threads:
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise ConfigError(f"threads={t!r} must be a positive integer (the profile has "
                              f"{have})")
        if t not in profiled:
            raise ConfigError(f"threads={t} was not profiled; the profile has {have}: "
                              f"profile it first")
    return list(threads)


def _start(path: Path | None, threads: list[int], quick: bool, timing: dict[str, Any],
           device: str = "cpu") -> Profile:
    """The profile to add to: the file's, when it is a profile of this machine, device and
    torch made the same way (resume); a new one otherwise."""
    import torch

    fresh = Profile(machine_info(device), torch.__version__, threads,
                    _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    device=device.split(":")[0], quick=quick, timing=timing)
    if path is None or not path.exists() or path.stat().st_size == 0:
        return fresh
    old = load_profile(path)
    if (old.torch, old.device, device_label(old)) != (fresh.torch, fresh.device,
                                                      device_label(fresh)):
        raise ConfigError(f"profile file {str(path)!r} was made with torch {old.torch} on "
                          f"{device_label(old)!r} ({old.device}); give a new file name to "
                          f"profile {device_label(fresh)!r} ({fresh.device})")
    old.threads = list(dict.fromkeys([*old.threads, *threads]))
    old.quick = old.quick and quick
    if old.measurements and old.timing and old.timing != timing:  # how the earlier ones were
        timing = {**timing, "earlier": old.timing}  # timed stays on record
    old.timing = timing
    return old


def check_resumable(path: str | Path, device: str = "cpu") -> None:
    """A one-line error when the profile at ``path`` is damaged, or was made on another
    machine, device or torch (what :func:`profile` would refuse after starting)."""
    _start(Path(path), [1], False, {}, device)


def profile(out: str | Path | None = None, *, threads: int | list[int] = 1,
            quick: bool = False, progress: Callable[[int, int, str], None] | None = None,
            seed: int = 0, rounds: int = 2, device: str = "cpu") -> Profile:
    """Time every kernel of :func:`attncost.latency.bench.grid` on each thread count,
    ``rounds`` passes (each measurement keeps its lowest pass), on ``device`` (``cpu``,
    ``cuda`` or ``cuda:<index>``), and write the profile to ``out`` (after every measurement;
    what ``out`` already holds is kept and not taken again). ``progress(done, total, what)``
    is called as it goes."""
    from ..torch_device import resolve_device_name
    from .bench import grid

    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 10:
        raise ConfigError(f"rounds={rounds!r} must be an integer from 1 to 10")
    counts = check_threads(threads)
    device = resolve_device_name(device)
    path = None if out is None else Path(out)
    if path is not None:
        from ..files import check_writable

        check_writable(path, "profile file")
    timing = {"statistic": f"lowest of 3 medians, lowest of {rounds} passes"
                           + (f"; GPU: blocks of ≥ {GPU_BLOCK_S * 1e3:g} ms" if device != "cpu"
                              else ""),
              "min_run_time_s": 0.01 if quick else 0.02, "repeats": 2 if quick else 3,
              "rounds": rounds}
    prof = _start(path, counts, quick, timing, device)
    shapes = [(k, f, t) for t in counts for k, f in grid(quick, seed)]
    wanted = {measurement_key(k, t, f) for k, f, t in shapes}
    done = {m.key for m in prof.measurements}
    todo = [(k, f, t) for k, f, t in shapes if measurement_key(k, t, f) not in done]
    again = sum(m.key in wanted and m.rounds < r for r in range(2, rounds + 1)
                for m in prof.measurements)
    total, step = len(todo) * rounds + again, 0

    def take(what: str, run: Callable[[], None]) -> None:
        nonlocal step
        if progress:
            progress(step, total, what)
        run()
        step += 1
        if path is not None:
            save_profile(prof, path)

    def args(m: Any) -> tuple:
        return (m.kind, m.features, m.threads, timing["min_run_time_s"], timing["repeats"],
                device)

    from ..torch_device import warm_up

    warm_up(device)
    for k, f, t in todo:
        take(f"{k} ×{t} {_short(f)}", lambda k=k, f=f, t=t: prof.measurements.append(
            measure(k, f, t, timing["min_run_time_s"], timing["repeats"], device)))
    for r in range(2, rounds + 1):
        for m in [m for m in prof.measurements if m.key in wanted and m.rounds < r]:
            take(f"pass {r}: {m.kind} ×{m.threads} {_short(m.features)}",
                 lambda m=m, r=r: _keep_lowest(m, measure(*args(m)), r))
    if progress:
        progress(total, total, "done")
    if path is not None:
        save_profile(prof, path)
    return prof


def _keep_lowest(m: Measurement, new: Measurement, rounds: int) -> None:
    """``m`` keeps the lower of its and ``new``'s forward and training times (with their
    IQRs), and counts ``rounds`` passes."""
    if new.fwd_s < m.fwd_s:
        m.fwd_s, m.fwd_iqr_s = new.fwd_s, new.fwd_iqr_s
    if new.train_s < m.train_s:
        m.train_s, m.train_iqr_s = new.train_s, new.train_iqr_s
    m.rounds = rounds


def _short(f: Features) -> str:
    return " ".join(f"{k}={v}" for k, v in f.items() if k not in ("flops",))
