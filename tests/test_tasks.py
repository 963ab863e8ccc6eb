"""Tasks as plug-ins (issue 11): registration in all four ways, the typed option schema, the
``sequences`` task on CSV, Parquet and ``.npz`` files (and bad ones), the ListOps generator
against an independent evaluator, the induction task, a user task searched end to end, and
the training device abstraction on the CPU."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("optuna")

from attncost.config import AttentionConfig  # noqa: E402
from attncost.errors import AttncostError  # noqa: E402
from attncost.search import tasks  # noqa: E402
from attncost.search.spec import SpecError, parse_spec  # noqa: E402
from attncost.search.tasks import (  # noqa: E402
    Task, TaskData, TaskError, TaskOption, TaskOptionError, get_task, load_task_file,
    register_task, train)
from attncost.search.tasks import device as train_device  # noqa: E402
from attncost.search.tasks.listops import OPERATORS, VOCAB  # noqa: E402

EXAMPLES = Path(__file__).parent / "examples"
ATTN = AttentionConfig(d_model=16, heads=2, batch=2)


def spec_data(task: str, task_options: dict | None = None, **sections: dict) -> dict:
    """A tiny single-objective spec on ``task`` (one or two small layers)."""
    data = {"search": {"name": "t", "task": task, "objective": "params", "trials": 3,
                       "sampler": "random"},
            "model": {"layers": 1, "d_model": 16, "heads": 2, "d_ff": 32, "batch": 2},
            "candidates": {"variants": ["standard", "efficient"]},
            "target": {"accuracy": 0.1},
            "training": {"steps": 2, "batch": 8, "seeds": 1, "eval_every": 2},
            "task": dict(task_options or {})}
    for section, body in sections.items():
        data.setdefault(section, {}).update(body)
    return data


# -- registration: four ways in -----------------------------------------------------------


class _Parity(Task):
    """Is the count of token 1 odd? (a tiny task the registration tests define)"""

    name = "parity-test"
    options = (TaskOption("length", "int", 6, "tokens", minimum=2),)

    def seq_len(self, opts):
        return opts["length"]

    def classes(self, opts):
        return 2

    def vocab(self, opts):
        return 3

    def data(self, opts, seed):
        g = torch.Generator().manual_seed(seed)
        x = torch.randint(1, 3, (40, opts["length"]), generator=g)
        y = ((x == 1).sum(1) % 2).long()
        return TaskData(x[:30], y[:30], x[30:], y[30:])


def test_decorator_registers_a_task_and_refuses_a_clash():
    register_task(_Parity)
    assert type(get_task("parity-test")) is _Parity
    register_task(_Parity)  # the same class again (a module imported twice) is fine
    other = type("Other", (_Parity,), {"__module__": "elsewhere"})
    with pytest.raises(TaskError, match="already registered"):
        register_task(other)
    register_task(other, replace=True)
    assert type(get_task("parity-test")) is other
    spec = parse_spec(spec_data("parity-test", {"length": 8}))
    assert spec.task_options == {"length": 8}
    assert spec.model(("standard",)).attention.seq_len == 8
    with pytest.raises(TaskError, match="not a Task with a name"):
        register_task(object())


def _module(tmp_path: Path, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))


PARITY_MODULE = """
    import torch
    from attncost.search.tasks import Task, TaskData, TaskOption

    class Count(Task):
        name = "{name}"
        options = (TaskOption("length", "int", 6, minimum=2),)
        def seq_len(self, opts): return opts["length"]
        def classes(self, opts): return 2
        def vocab(self, opts): return 3
        def data(self, opts, seed):
            g = torch.Generator().manual_seed(seed)
            x = torch.randint(1, 3, (60, opts["length"]), generator=g)
            y = ((x == 1).sum(1) > opts["length"] // 2).long()
            return TaskData(x[:40], y[:40], x[40:], y[40:])

    instance = Count()
"""


def test_entry_point_registers_a_task_and_a_broken_one_is_named(tmp_path, monkeypatch):
    _module(tmp_path, "ep_tasks_mod", PARITY_MODULE.format(name="ep-count"))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [metadata.EntryPoint("ep-count", "ep_tasks_mod:Count", tasks.ENTRY_POINT_GROUP),
           metadata.EntryPoint("broken", "no_such_module_xyz:Task", tasks.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(metadata, "entry_points",
                        lambda group=None, **kw: [e for e in eps if e.group == group])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        added = tasks.load_entry_points()
    assert added == ["ep-count"]
    assert any("could not load task entry point 'broken'" in str(w.message) for w in caught)
    assert get_task("ep-count").name == "ep-count"
    assert parse_spec(spec_data("ep-count")).task == "ep-count"
    with pytest.raises(AttncostError, match="its entry point failed to load"):
        get_task("broken")
    monkeypatch.delitem(tasks._broken, "broken")


def test_task_file_registers_its_tasks(tmp_path):
    assert load_task_file(str(EXAMPLES / "custom_task.py")) == ["firstmatch"]
    spec = parse_spec(spec_data("firstmatch", {"length": 8, "examples": 20}))
    assert spec.model(("standard",)).class_head == (2,)
    empty = tmp_path / "nothing.py"
    empty.write_text("x = 1\n")
    with pytest.raises(TaskError, match="registered no task"):
        load_task_file(str(empty))


def test_reference_in_a_spec_imports_the_task(tmp_path, monkeypatch):
    _module(tmp_path, "ref_tasks_mod", PARITY_MODULE.format(name="ref-count"))
    monkeypatch.syspath_prepend(str(tmp_path))
    for ref in ("ref_tasks_mod:Count", "ref_tasks_mod:instance"):
        spec = parse_spec(spec_data(ref, {"length": 5}))
        assert spec.task == ref and spec.task_options == {"length": 5}
        assert get_task(ref).name == "ref-count"
    for ref, message in (("no_such_mod_xyz:Task", "cannot import 'no_such_mod_xyz'"),
                         ("ref_tasks_mod:Missing", "has no 'Missing'"),
                         ("ref_tasks_mod:torch", "is not a Task")):
        with pytest.raises(SpecError, match=message) as e:
            parse_spec(spec_data(ref))
        assert "\n" not in str(e.value) and "[search] task" in str(e.value)


def test_a_user_task_by_reference_is_searched_end_to_end(tmp_path, monkeypatch):
    """A tiny search on a task named "module:object": baseline, runs, an answer."""
    from attncost.search import runner

    _module(tmp_path, "e2e_tasks_mod", PARITY_MODULE.format(name="e2e-count"))
    monkeypatch.syspath_prepend(str(tmp_path))
    data = spec_data("e2e_tasks_mod:Count", {"length": 4},
                     search={"storage": str(tmp_path / "s.journal"), "trials": 3})
    summary = runner.run_search(parse_spec(data)).to_dict()
    assert summary["spec"]["task"] == "e2e_tasks_mod:Count"
    trained = [t for t in summary["trials"] if t["status"] == "trained"]
    assert trained and all(0.0 <= t["accuracy"] <= 1.0 for t in trained)
    assert summary["baseline"]["layers"] == ["standard"]


# -- option schema -----------------------------------------------------------------------


@pytest.mark.parametrize("task, given, message", [
    ("listops", {"max_length": "long"}, "[task] max_length = 'long' is invalid: must be an "
                                        "integer ≥ 3"),
    ("listops", {"max_depth": 1}, "[task] max_depth = 1 is invalid: must be an integer ≥ 2"),
    ("listops", {"max_args": True}, "[task] max_args = True is invalid: must be an integer"),
    ("listops", {"min_length": 70, "max_length": 64}, "[task] min_length = 70 is invalid: "
                                                      "must be ≤ max_length = 64"),
    ("listops", {"depth": 3}, "unknown field [task] depth for task 'listops'; allowed: "
                              "min_length, max_length"),
    ("induction", {"vocab": 2.5}, "[task] vocab = 2.5 is invalid: must be an integer in "
                                  "[4, 65536]"),
    ("sequences", {}, "[task] path is required for task 'sequences'"),
    ("sequences", {"path": "nope.csv"}, "[task] path = 'nope.csv' is invalid: no such file"),
    ("sequences", {"path": 3}, "[task] path = 3 is invalid: must be the path of a file"),
    ("sequences", {"path": "d.csv", "input": "pixels"}, "[task] input = 'pixels' is invalid: "
                                                        "allowed: tokens, text, features"),
    ("sequences", {"path": "d.csv", "input": "features", "columns": ["a", 3]},
     "[task] columns[1] = 3 is invalid: must be a string"),
    ("sequences", {"path": "d.csv", "columns": ["a"]}, "[task] columns is for input = "
                                                       "\"features\""),
    ("sequences", {"path": "d.csv", "val_fraction": 0.95}, "[task] val_fraction = 0.95 is "
                                                           "invalid: must be a number in"),
])
def test_option_errors_are_one_line_naming_the_field(tmp_path, task, given, message):
    _write_csv(tmp_path / "d.csv", ["tokens", "label"], [["1 2", "a"], ["3", "b"]])
    data = spec_data(task, given)
    with pytest.raises(SpecError) as e:
        parse_spec(data, source=str(tmp_path / "s.toml"))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_option_types_cover_json_values():
    assert TaskOption("t", "table").check({"a": 1}) == {"a": 1}
    assert TaskOption("l", "list", item="float", minimum=0).check((1, 2.5)) == [1, 2.5]
    with pytest.raises(TaskOptionError, match=r"\[task\] l\[1\] = -1 is invalid: must be a "
                                              r"number ≥ 0"):
        TaskOption("l", "list", item="float", minimum=0).check([1, -1])
    with pytest.raises(TaskOptionError, match="must be a number"):
        TaskOption("f", "float").check(float("nan"))
    with pytest.raises(AttncostError, match="type 'tuple' is not one of"):
        TaskOption("x", "tuple")


def test_target_follows_the_tasks_metric(tmp_path):
    _write_csv(tmp_path / "d.csv", ["tokens", "label"], [["1 2", "a"], ["3", "b"]] * 3)
    opts = {"path": "d.csv", "metric": "f1"}
    src = str(tmp_path / "s.toml")
    spec = parse_spec(spec_data("sequences", opts) | {
        "target": {"f1": 0.7}}, source=src)
    assert spec.metric == "f1" and spec.target_accuracy == pytest.approx(0.7)
    with pytest.raises(SpecError, match="scored by f1"):
        parse_spec(spec_data("sequences", opts), source=src)
    loss = parse_spec(spec_data("sequences", {"path": "d.csv", "metric": "loss"}) | {
        "target": {"loss": 0.5}}, source=src)
    assert loss.target_accuracy == pytest.approx(np.exp(-0.5)) and loss.target_value == \
        pytest.approx(0.5)


# -- sequences: the user's file ----------------------------------------------------------


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _seq(path: Path, **opts):
    t = get_task("sequences")
    o = t.resolve({"path": str(path), **opts})
    return t, o


def test_csv_token_ids_are_padded_truncated_and_split_by_seed(tmp_path):
    rows = [[" ".join(str(j) for j in range(i % 5 + 1)), "yes" if i % 2 else "no"]
            for i in range(20)]
    t, o = _seq(_write_csv(tmp_path / "d.csv", ["tokens", "label"], rows), seq_len=3)
    d = t.data(o, seed=0)
    assert t.seq_len(o) == 3 and t.classes(o) == 2 and t.vocab(o) == 6  # ids 0..4 → 1..5
    x = torch.cat([d.x_train, d.x_val])
    assert d.x_val.shape == (4, 3) and d.x_train.shape == (16, 3)  # val_fraction 0.2
    assert {tuple(r) for r in x.tolist()} == {(1, 0, 0), (1, 2, 0), (1, 2, 3)}  # pad, cut
    assert t.data(o, seed=5).y_val.tolist() == d.y_val.tolist()  # held-out: split_seed
    full = [r for r in torch.cat([d.x_train, d.x_val]).tolist()]
    assert sorted(map(tuple, full)) == sorted(
        tuple(([j + 1 for j in range(min(i % 5 + 1, 3))] + [0, 0, 0])[:3]) for i in range(20))
    other = t.data(t.resolve({"path": o["path"], "seq_len": 3, "split_seed": 1}), 0)
    assert other.x_val.tolist() != d.x_val.tolist() or other.y_val.tolist() != \
        d.y_val.tolist()
    assert t.resolve({"path": o["path"]}) and t.seq_len(t.resolve({"path": o["path"]})) == 5


def test_csv_text_with_byte_and_char_tokenizers(tmp_path):
    path = _write_csv(tmp_path / "t.csv", ["review", "stars"],
                      [["good", 5], ["bad", 1], ["héé", 3], ["ok", 5]])
    t, o = _seq(path, input="text", column="review", label="stars", val_fraction=0.25)
    d = t.data(o, 0)
    x = torch.cat([d.x_train, d.x_val])
    assert t.vocab(o) == 257 and t.seq_len(o) == 5  # "héé" is 5 UTF-8 bytes
    assert [1 + b for b in "bad".encode()] + [0, 0] in x.tolist()
    assert t.classes(o) == 3 and sorted(torch.cat([d.y_train, d.y_val]).tolist()) == \
        [0, 1, 2, 2]
    t, o = _seq(path, input="text", column="review", label="stars", tokenizer="char")
    chars = sorted(set("goodbadhééok"))
    assert t.vocab(o) == len(chars) + 1 and t.seq_len(o) == 4
    x = torch.cat([t.data(o, 0).x_train, t.data(o, 0).x_val]).tolist()
    assert [chars.index(c) + 1 for c in "héé"] + [0] in x


def test_csv_feature_columns_become_a_linear_projection(tmp_path):
    path = _write_csv(tmp_path / "f.csv", ["a", "b", "c", "d", "y"],
                      [[i, i * 0.5, -i, 2, i % 2] for i in range(10)])
    t, o = _seq(path, input="features", columns=["a", "b", "c", "d"], features=2, label="y")
    d = t.data(o, 0)
    assert d.x_train.shape[1:] == (2, 2) and d.x_train.dtype == torch.float32
    assert [[[3.0, 1.5], [-3.0, 2.0]]] == [r for r in torch.cat([d.x_train, d.x_val]).tolist()
                                           if r[0][0] == 3.0]
    m = t.model(("standard",), ATTN, o, d_ff=32)
    assert m.features == 2 and m.vocab == 0 and m.class_head == (2,)
    r = train(t, m, o, steps=2, batch=4, eval_every=2)
    assert 0.0 <= r.accuracy <= 1.0


def test_parquet_lists_and_text(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"ids": [[3, 1], [2], [0, 0, 7]], "text": ["ab", "b", "ca"],
                      "vec": [[0.5, 1.0, 2.0, 3.0], [1.0, 2.0], [4.0, 5.0]],
                      "label": ["x", "y", "x"]})
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    t, o = _seq(path, column="ids", val_fraction=0.34)
    assert t.seq_len(o) == 3 and t.vocab(o) == 9
    x = torch.cat([t.data(o, 0).x_train, t.data(o, 0).x_val]).tolist()
    assert sorted(x) == sorted([[4, 2, 0], [3, 0, 0], [1, 1, 8]])
    t, o = _seq(path, input="text", column="text", tokenizer="char")
    assert t.vocab(o) == 4
    t, o = _seq(path, input="features", column="vec", features=2)
    assert t.features(o) == 2 and t.seq_len(o) == 2
    with pytest.raises(TaskOptionError, match="row 1, column 'ids': expected token ids"):
        pq.write_table(pa.table({"ids": [[1, -2]], "label": [0]}), tmp_path / "bad.parquet")
        _seq(tmp_path / "bad.parquet", column="ids")


def test_npz_token_and_feature_arrays(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, tokens=np.arange(24).reshape(6, 4), feats=np.ones((6, 3, 2)),
             label=np.array([0, 1, 0, 1, 1, 0]))
    t, o = _seq(path, seq_len=6)
    d = t.data(o, 0)
    assert t.vocab(o) == 25 and d.x_train.shape[1] == 6
    assert [1, 2, 3, 4, 0, 0] in torch.cat([d.x_train, d.x_val]).tolist()
    t, o = _seq(path, input="features", column="feats", features=2)
    assert t.features(o) == 2 and t.seq_len(o) == 3
    assert t.data(o, 0).x_train.shape[1:] == (3, 2)


@pytest.mark.parametrize("name, content, opts, message", [
    ("missing.csv", "tokens,label\n1 2,a\n3,b\n", {"label": "class"},
     "missing.csv: no column 'class'; it has: 'tokens', 'label'"),
    ("cells.csv", "tokens,label\n1 2,a\n3 x,b\n", {},
     "cells.csv: row 2, column 'tokens': expected token ids"),
    ("ragged.csv", "tokens,label\n1 2,a\n3,b,c\n", {},
     "ragged.csv: row 2 has 3 cells; expected 2"),
    ("nan.csv", "a,label\n1,a\nnan,b\n", {"input": "features", "columns": ["a"]},
     "nan.csv: row 2, column 'a': expected finite numbers, got 'nan'"),
    ("two.csv", "a,label\n1,a\n2 3,b\n", {"input": "features", "columns": ["a"]},
     "two.csv: row 2, column 'a': expected one finite number, got '2 3'"),
    ("one.csv", "tokens,label\n1,a\n2,a\n", {},
     "one.csv: column 'label' has one class ('a')"),
    ("empty.csv", "", {}, "empty.csv: empty file"),
    ("header.csv", "tokens,label\n", {}, "header.csv: no rows"),
    ("width.csv", "f,label\n1 2 3,a\n1 2,b\n", {"input": "features", "column": "f",
                                                "features": 2},
     "width.csv: row 1, column 'f': expected a multiple of features = 2 numbers"),
    ("data.json", "{}", {}, "data.json: unknown file type '.json'"),
    ("bad.parquet", "not parquet", {}, "bad.parquet: not a readable Parquet file"),
    ("bad.npz", "not npz", {}, "bad.npz: not a readable .npz file"),
])
def test_bad_files_are_one_line_naming_column_row_and_expectation(tmp_path, name, content,
                                                                    opts, message):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(TaskOptionError) as e:
        _seq(path, **opts)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith("[task] path: ")


def test_npz_arrays_of_different_lengths_are_refused(tmp_path):
    np.savez(tmp_path / "d.npz", tokens=np.zeros((4, 3), dtype=int), label=np.arange(3))
    with pytest.raises(TaskOptionError, match="one row per example"):
        _seq(tmp_path / "d.npz")


def test_cli_names_a_bad_file_in_one_line(tmp_path):
    (tmp_path / "d.csv").write_text("tokens,label\n1 2,a\n-3,b\n")
    spec = tmp_path / "s.toml"
    spec.write_text("[search]\ntask = 'sequences'\nobjective = 'params'\n[model]\n"
                    "layers = 1\nd_model = 16\nheads = 2\n[candidates]\n"
                    "variants = ['standard']\n[target]\n"
                    "accuracy = 0.5\n[task]\npath = 'd.csv'\n")
    r = subprocess.run([sys.executable, "-m", "attncost", "search", str(spec)],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "d.csv: row 2, column 'tokens': expected token ids" in lines[0]


# -- ListOps -----------------------------------------------------------------------------


def _evaluate_ids(ids: list[int]) -> tuple[int, int, int]:
    """An independent evaluator of LRA ListOps token ids (a stack machine): (value, operator
    nesting depth, tokens)."""
    names = {v: k for k, v in VOCAB.items()}
    toks = [names[i] for i in ids if i != 0]
    stack: list[list] = []
    depth = deepest = 0
    result = None
    for tok in toks:
        if tok in OPERATORS:
            stack.append([tok])
            depth += 1
            deepest = max(deepest, depth)
        elif tok == "]":
            op, *args = stack.pop()
            depth -= 1
            value = {"MAX": max(args), "MIN": min(args), "SM": sum(args) % 10,
                     "MED": int(np.median(args))}[op]
            if stack:
                stack[-1].append(value)
            else:
                result = value
        elif stack:
            stack[-1].append(int(tok))
        else:
            result = int(tok)
    assert not stack, "unbalanced sequence"
    return result, deepest, len(toks)


def test_listops_values_lengths_depths_and_seeds():
    t = get_task("listops")
    o = t.resolve({"min_length": 10, "max_length": 40, "max_depth": 4, "max_args": 5,
                   "train_examples": 300, "val_examples": 200})
    d = t.data(o, seed=0)
    assert d.x_train.shape == (300, 40) and t.vocab(o) > int(d.x_train.max())
    for x, y in zip(torch.cat([d.x_train, d.x_val]).tolist(),
                    torch.cat([d.y_train, d.y_val]).tolist()):
        value, deepest, n = _evaluate_ids(x)
        assert value == y
        assert 10 <= n <= 40 and 1 <= deepest <= 3  # root at depth 1: ≤ max_depth − 1
        assert all(i == 0 for i in x[n:]) and all(i != 0 for i in x[:n])
    labels = torch.cat([d.y_train, d.y_val])
    assert len(set(labels.tolist())) == 10
    assert max(np.bincount(labels.numpy())) / len(labels) < 0.5  # not one class
    again, other = t.data(o, seed=0), t.data(o, seed=1)
    assert torch.equal(again.x_train, d.x_train) and torch.equal(again.y_train, d.y_train)
    assert not torch.equal(other.x_train, d.x_train)
    assert torch.equal(other.x_val, d.x_val)  # the held-out set is fixed
    held = {tuple(r) for r in d.x_val.tolist()}
    assert not any(tuple(r) in held for r in d.x_train.tolist())


def test_listops_impossible_lengths_are_one_line():
    t = get_task("listops")
    o = t.resolve({"min_length": 60, "max_length": 64, "max_depth": 2, "max_args": 2,
                   "train_examples": 5, "val_examples": 5})
    with pytest.raises(TaskOptionError, match="too few trees"):
        t.data(o, 0)


def test_induction_answer_follows_the_trigger():
    t = get_task("induction")
    o = t.resolve({"seq_len": 32, "vocab": 10, "train_examples": 50, "val_examples": 20})
    d = t.data(o, 0)
    for x, y in zip(d.x_train.tolist(), d.y_train.tolist()):
        assert x[-1] == 1 and x[:-1].count(1) == 1  # the trigger once, then the query
        i = x.index(1)
        assert y[-1] == x[i + 1] and set(y[:-1]) == {-100} and 2 <= y[-1] < 10
    assert t.chance(o) == pytest.approx(1 / 8)
    assert torch.equal(t.data(o, 0).x_train, d.x_train)
    assert not torch.equal(t.data(o, 1).x_train, d.x_train)
    one = t.resolve({**o, "hops": 1})
    assert t.vocab(one) == 18 and t.classes(one) == 10
    d1 = t.data(one, 0)
    for x, y in zip(d1.x_train.tolist(), d1.y_train.tolist()):
        marked = [v for v in x if v >= 10]  # the answer, marked where it stands
        assert x[-1] == 1 and 1 not in x[:-1] and marked == [8 + y[-1]]


# -- the training device -----------------------------------------------------------------


def test_cpu_training_through_the_device_abstraction():
    dev = train_device.resolve_device("cpu", "bf16")
    with dev.autocast():
        out = torch.nn.Linear(4, 4)(torch.ones(2, 4))
    assert out.dtype == torch.bfloat16
    assert train_device.resolve_device("cpu").precision == "fp32"
    assert train_device.resolve_device("cpu", "fp16").scaler() is not None
    register_task(_Parity)
    t = get_task("parity-test")
    o = t.resolve()
    m = t.model(("standard",), ATTN, o, d_ff=32)
    for precision in ("fp32", "bf16"):
        r = train(t, m, o, steps=3, batch=8, eval_every=3, device="cpu", precision=precision)
        assert (r.device, r.precision) == ("cpu", precision) and 0 <= r.accuracy <= 1


def test_cuda_without_a_gpu_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(train_device.DeviceError, match="sees no CUDA GPU here"):
        train_device.resolve_device("cuda")
    with pytest.raises(SpecError) as e:
        parse_spec(spec_data("listops", training={"device": "cuda"}))
    assert str(e.value).startswith("[training] device = 'cuda' is invalid") and \
        "no CUDA GPU" in str(e.value) and "\n" not in str(e.value)
    for field, value, allowed in (("device", "tpu", "cpu, cuda, cuda:<index>"),
                                  ("precision", "fp8", "auto, fp32, bf16, fp16")):
        with pytest.raises(SpecError, match=f"\\[training\\] {field} = '{value}' is invalid: "
                                            f"allowed: {allowed}"):
            parse_spec(spec_data("listops", training={field: value}))


def test_cuda_resolution_picks_mixed_precision(monkeypatch):
    """What a GPU machine resolves to, with torch's CUDA queries stood in for."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "old GPU")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    dev = train_device.resolve_device("cuda")
    assert (dev.name, dev.precision) == ("cuda:0", "fp16")
    with pytest.raises(train_device.DeviceError, match="'bf16' is not supported by "
                                                               "old GPU"):
        train_device.resolve_device("cuda", "bf16")
    with pytest.raises(train_device.DeviceError, match="1 CUDA GPU"):
        train_device.resolve_device("cuda:1")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert train_device.resolve_device("cuda:0").precision == "bf16"
    spec = parse_spec(spec_data("listops", training={"device": "cuda", "precision": "fp16"}))
    assert (spec.train_device, spec.precision) == ("cuda", "fp16")
    assert "train_device" in spec.as_dict()
    assert "train_device" not in parse_spec(spec_data("listops")).as_dict()  # old studies


def test_summary_json_of_a_spec_is_serialisable():
    spec = parse_spec(spec_data("induction", {"seq_len": 16}))
    json.dumps(spec.as_dict())


def test_the_readme_csv_example_is_its_generators_output_and_loads(tmp_path):
    """README, "I have a CSV": examples/reviews.csv is what examples/make_reviews.py writes,
    and examples/reviews.toml reads it (path relative to the spec)."""
    from attncost.search.spec import load_spec

    import importlib.util

    root = Path(__file__).resolve().parents[1] / "examples"

    gen = importlib.util.spec_from_file_location("make_reviews", root / "make_reviews.py")
    module = importlib.util.module_from_spec(gen)
    gen.loader.exec_module(module)
    module.main(tmp_path / "reviews.csv")
    assert (tmp_path / "reviews.csv").read_text() == (root / "reviews.csv").read_text()
    spec = load_spec(root / "reviews.toml")
    t = get_task("sequences")
    assert spec.task_options["path"] == str(root / "reviews.csv")
    assert t.classes(spec.task_options) == 2 and t.seq_len(spec.task_options) == 24
    assert t.vocab(spec.task_options) == 1 + 6 + 6 + 19  # pad + the file's words
