"""Studies that survive kills, damage and many processes (issue 14): resume after kill -9,
no orphan workers, a study-wide budget across separate processes (journal and PostgreSQL),
every kind of journal damage repaired or refused, stale locks on relative and absolute
paths."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("torch")

from attncost.search import runner, storage  # noqa: E402
from attncost.search.evidence import EVALUATED  # noqa: E402
from attncost.search.spec import load_spec  # noqa: E402
from studies import check_each_run_once, search_cmd, study_of, tiny  # noqa: E402

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def test_cli_bad_spec_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[search]\ntask = 'digits'\n[model]\nlayers = 2\n")
    r = subprocess.run(search_cmd(bad), capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "error: [candidates] variants is required (a list of variant names)"]


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_resume_after_kill_loses_no_finished_trial(tmp_path):
    """Kill -9 a search mid-run, run it again: every finished trial is still there, the
    killed trial is marked failed (not an evaluation), and the total stays in budget."""
    spec = tiny(tmp_path, search={"trials": 6, "sampler": "random"},
                training={"steps": 200, "eval_every": 200})
    proc = subprocess.Popen(search_cmd(spec), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, start_new_session=True, cwd=tmp_path)
    journal = tmp_path / "study.journal"

    def two_done_one_running() -> bool:
        if not journal.exists():
            return False
        study = study_of(spec)
        running = [t for t in study.trials if t.state.name == "RUNNING"]
        return runner.counted_trials(study) >= 2 and bool(running)

    try:
        _wait_for(two_done_one_running, 120, "two finished trials and one running")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    kept = {t.number: t.user_attrs.get("accuracy") for t in study_of(spec).trials
            if t.user_attrs.get("status") in EVALUATED}
    r = subprocess.run(search_cmd(spec), capture_output=True, text=True, env=ENV,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "interrupted run(s) marked failed" in r.stderr
    study = study_of(spec)
    after = {t.number: t.user_attrs.get("accuracy") for t in study.trials}
    for number, acc in kept.items():
        assert after[number] == acc
    assert 1 < runner.counted_trials(study) <= 6


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry))
    return out


def _gone(pids: set[int]) -> bool:
    from attncost.search.workers import alive

    return not any(alive(p) and "zombie" not in _state(p) for p in pids)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_killed_parent_leaves_no_orphan_workers(tmp_path):
    """kill -9 of a `--workers 2` search's parent alone: its workers die with it (they
    were orphans that went on training), and a rerun stays within the study's budget."""
    spec = tiny(tmp_path, search={"trials": 30, "sampler": "random", "workers": 2},
                training={"steps": 400, "eval_every": 400})
    proc = subprocess.Popen(search_cmd(spec), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV, start_new_session=True,
                            cwd=tmp_path)
    workers: set[int] = set()
    try:
        def two_workers() -> bool:
            workers.update(c for c in _children(proc.pid)
                           if "spawn" in Path(f"/proc/{c}/cmdline").read_text(errors="ignore"))
            return len(workers) >= 2

        _wait_for(two_workers, 90, "two worker processes")
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, as a crash or OOM kill would
        proc.wait()
        _wait_for(lambda: _gone(workers), 20, "the workers to die with their parent")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    done = runner.counted_trials(study_of(spec))
    r = subprocess.run(search_cmd(spec, "--trials", str(done + 2), "--workers", "1"),
                       capture_output=True, text=True, env=ENV, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    study = study_of(spec)
    assert runner.counted_trials(study) <= done + 2
    assert not [t for t in study.trials if t.state.name == "RUNNING"]


def _four_processes(tmp_path: Path, storage_url: str | None, name: str,
                    workers: tuple[int, ...] = (1, 1, 1, 1)) -> None:
    search = {"trials": 8, "sampler": "tpe", "name": name}
    if storage_url:
        search["storage"] = storage_url
    spec = tiny(tmp_path, search=search, training={"steps": 30, "eval_every": 30})
    procs = [subprocess.Popen(search_cmd(spec, "-o", str(tmp_path / f"summary-{i}.json"),
                                         "--workers", str(w)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=ENV, cwd=tmp_path) for i, w in enumerate(workers)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    check_each_run_once(spec, 8)
    import json

    for i in range(4):  # an early finisher does not call the others' runs interrupted
        summary = json.loads((tmp_path / f"summary-{i}.json").read_text())
        assert not [t for t in summary["trials"] if t["status"] == "interrupted"]


def test_four_processes_share_one_budget_on_a_journal(tmp_path):
    """Four separate `attncost search` processes on one journal with --trials 8: 8
    evaluations in all (not 32), the baseline trained once, no (architecture, seed) twice."""
    _four_processes(tmp_path, None, "four-journal")


def test_four_processes_share_one_budget_on_postgresql(tmp_path, postgres_url):
    """The same on PostgreSQL, two of the four with --workers 2 (six trainers at once)."""
    _four_processes(tmp_path, postgres_url, "four-postgres", workers=(1, 2, 1, 2))


def test_two_workers_share_a_journal(tmp_path):
    spec = tiny(tmp_path, search={"trials": 8, "sampler": "tpe", "workers": 2},
                training={"steps": 30, "eval_every": 30})
    r = subprocess.run(search_cmd(spec), capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    check_each_run_once(spec, 8, workers=3)  # the parent (the baseline) and both workers


# -- a damaged journal ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    """A journal of a finished 4-trial study, and its spec."""
    root = tmp_path_factory.mktemp("finished")
    spec = tiny(root, search={"trials": 4})
    r = subprocess.run(search_cmd(spec), capture_output=True, text=True, env=ENV, cwd=root)
    assert r.returncode == 0, r.stderr
    return root / "study.journal"


def _damage(data: bytes, kind: str) -> bytes:
    lines = data.splitlines(keepends=True)
    if kind == "truncated last line":
        return data[:-(len(lines[-1]) // 2)]
    if kind == "garbage line":
        return b"".join(lines[:-3]) + b"\x00\xffgarbage\n" + b"".join(lines[-3:])
    if kind == "partial record":
        return data + b'{"op_code": 5, "worker_id": "x", "trial_id"\n'
    if kind == "cut in half":
        return data[:len(data) // 2]
    raise ValueError(kind)


DAMAGE = ("truncated last line", "garbage line", "partial record", "cut in half")


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_journal_is_repaired_with_a_backup(tmp_path, finished_study, kind):
    """Each kind of damage a kill or a disk leaves: detected on open, cut back to the last
    good record (the original kept beside it), and Optuna itself reads the result."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = tmp_path / "study.journal"
    damaged = _damage(finished_study.read_bytes(), kind)
    journal.write_bytes(damaged)
    notes: list[str] = []
    dropped = storage.check_journal(journal, warn=notes.append)
    assert dropped >= 1 and len(notes) == 1 and "repaired" in notes[0]
    backups = list(tmp_path.glob("study.journal.damaged-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == damaged
    kept = journal.read_bytes()
    assert damaged.startswith(kept) and kept.endswith(b"\n")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    store = JournalStorage(JournalFileBackend(str(journal)))
    for s in store.get_all_studies():
        store.get_all_trials(s._study_id)  # readable to the last record
    assert storage.check_journal(journal) == 0  # repaired once, clean after


@pytest.mark.parametrize("kind", DAMAGE)
def test_search_resumes_on_a_damaged_journal(tmp_path, finished_study, kind, capsys):
    """The search itself, on a damaged journal: a one-line note, the study resumed, and the
    journal it leaves is readable (attncost never makes a readable journal unreadable)."""
    spec = tiny(tmp_path, search={"trials": 5})
    (tmp_path / "study.journal").write_bytes(_damage(finished_study.read_bytes(), kind))
    runner.run_search(load_spec(spec), log=lambda line: None)
    notes = [line for line in capsys.readouterr().err.splitlines() if "damaged" in line]
    assert len(notes) == 1 and "was damaged after record" in notes[0]
    study = study_of(spec)
    assert runner.counted_trials(study) <= 5
    assert storage.check_journal(tmp_path / "study.journal") == 0


def test_a_file_that_is_not_a_journal_is_refused_untouched(tmp_path):
    data = b"name,score\nalice,3\n"
    f = tmp_path / "results.csv"
    f.write_bytes(data)
    spec = tiny(tmp_path, search={"storage": str(f)})
    r = subprocess.run(search_cmd(spec), capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "is not an Optuna journal" in r.stderr
    assert f.read_bytes() == data and not list(tmp_path.glob("results.csv.damaged-*"))


# -- stale locks ---------------------------------------------------------------------------


@pytest.fixture
def alarm():
    """Fail, instead of hanging the suite, when a test runs past 60 s."""
    def timeout(*_):
        raise AssertionError("timed out after 60 s (hung on the lock?)")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("relative", [True, False], ids=["relative", "absolute"])
def test_a_stale_lock_is_cleared_with_a_note(tmp_path, relative, monkeypatch, capsys, alarm):
    """A lock left by a process killed mid-write (a symlink, as Optuna makes it): the search
    says so and goes on, with a relative storage path in a folder (it used to spin at 100 %
    CPU forever: the link points nowhere) as with an absolute one (it used to stall 30 s
    silently)."""
    monkeypatch.chdir(tmp_path)
    where = "sub/study.journal" if relative else str(tmp_path / "sub" / "study.journal")
    spec = tiny(tmp_path, search={"trials": 2, "storage": where})
    (tmp_path / "sub").mkdir()
    lock = tmp_path / "sub" / "study.journal.lock"
    os.symlink(where, lock)  # what JournalFileSymlinkLock leaves (relative: dangling)
    old = time.time() - 3600
    os.utime(lock, (old, old), follow_symlinks=False)
    runner.run_search(load_spec(spec), log=lambda line: None)
    assert "removing a stale lock" in capsys.readouterr().err
    assert not os.path.lexists(lock)
    assert 1 <= runner.counted_trials(study_of(spec)) <= 2
