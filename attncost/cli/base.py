"""What every command shares: the app, one-line errors, typed flags made from the
configuration's own fields, and output helpers.

Exit status: 0 on success, 2 on bad input (one line: ``error: ...``, usage errors included),
1 when a check fails (``fit --require-fit``, ``validate``), 130 on Ctrl-C.
"""

import dataclasses
import functools
import inspect
import json
import math
import sys
import typing
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, Sequence

import typer
from typer import _click
from typer.core import TyperGroup
from typer.exceptions import Abort

from ..errors import AttncostError


class OneLineErrors(TyperGroup):
    """Usage errors (an unknown flag, a value of the wrong type) as one line ``error: …``
    with exit status 2, like every other bad input; no arguments prints the help."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except _click.exceptions.NoArgsIsHelpError as e:
            typer.echo(e.ctx.get_help())
            rv = 0
        except _click.exceptions.ClickException as e:
            if not standalone_mode:
                raise
            typer.echo(f"error: {one_line(e.format_message())}", err=True)
            sys.exit(2)
        except Abort:
            if not standalone_mode:
                raise
            typer.echo("interrupted", err=True)
            sys.exit(130)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


def one_line(text: str) -> str:
    return " ".join(str(text).split())


app = typer.Typer(
    name="attncost",
    cls=OneLineErrors,
    help="What an attention layer costs, exactly, before you train anything: parameters, "
         "FLOPs, memory, KV cache, device fit and roofline latency of every registered "
         "attention variant (`attncost compare` lists them), and which variant each layer "
         "should use (`attncost search`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: '[default: …]' and '.[torch]' stay as written
)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn attncost's typed errors into one line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AttncostError as exc:
            typer.echo(f"error: {one_line(str(exc))}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def needs(*modules: str, extra: str) -> None:
    """Fail with one line when an optional dependency is missing."""
    import importlib.util

    for m in modules:
        if importlib.util.find_spec(m) is None:
            raise AttncostError(f"this command needs {m}: pip install -c constraints.txt "
                                f"-e '.[{extra}]'")


# -- value parsers (one-line errors that name the value) ------------------------------------


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an integer") from None


def parse_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise typer.BadParameter(f"{text!r} is not a finite number")
    return value


def parse_fraction(text: str) -> float:
    """A headroom: a number in [0, 1)."""
    value = parse_float(text)
    if not 0.0 <= value < 1.0:
        raise typer.BadParameter(f"{text!r} is not a fraction in [0, 1)")
    return value + 0.0  # -0.0 → 0.0


def parse_count(text: str) -> int:
    """A count that may be zero (tokens, runs): an integer ≥ 0."""
    value = parse_int(text)
    if value < 0:
        raise typer.BadParameter(f"{text!r} is negative; give an integer ≥ 0")
    return value


def parse_ints(text: str) -> tuple[int, ...]:
    """``'1000'`` or ``'6,1'`` → a tuple of integers."""
    try:
        return tuple(int(p) for p in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of integers") \
            from None


class Fmt(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class Mode(str, Enum):
    train = "train"
    infer = "infer"


# -- flags made from the configuration's fields --------------------------------------------


def _flag_type(tp: Any) -> Any:
    """The base type of a dataclass field's annotation (``int | None`` → int)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType")) \
            and args:
        return args[0]
    return tp


def _option_for(name: str, f: dataclasses.Field, tp: Any, shown: str | None = None) -> Any:
    """A typer option for dataclass field ``f`` (its help and shown default from the field's
    metadata, or ``shown``); the value None means "not given"."""
    meta = f.metadata
    shown = shown or meta.get("shown")
    if shown is None and f.default is not dataclasses.MISSING:
        default = f.default
        shown = ("on" if default else "off") if isinstance(default, bool) else (
            ",".join(map(str, default)) or "none" if isinstance(default, tuple) else str(default))
    help_text = meta["help"] + (f" Allowed: {', '.join(map(str, meta['choices']))}."
                                if meta.get("choices") else "")
    flag = "--" + name.replace("_", "-")
    base = _flag_type(tp)
    if base is bool:
        return Annotated[Optional[bool], typer.Option(
            f"{flag}/--no-{name.replace('_', '-')}", help=help_text, show_default=shown)]
    parser, metavar = {int: (parse_int, "INT"), float: (parse_float, "NUMBER"),
                       str: (None, "TEXT")}.get(base, (parse_ints, "INTS"))
    kw = {"parser": parser} if parser else {}
    value_type = base if base in (int, float, str) else str
    return Annotated[Optional[value_type], typer.Option(  # type: ignore[valid-type]
        flag, help=help_text, show_default=shown, metavar=metavar, **kw)]


def config_fields(cls: type, only: Sequence[str] | None = None, exclude: Sequence[str] = (),
                  shown: str | None = None) -> list[tuple[str, Any]]:
    """(name, typer annotation) of ``cls``'s command-line fields (``metadata['cli']``)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli") or f.name in exclude or (only and f.name not in only):
            continue
        out.append((f.name, _option_for(f.name, f, hints[f.name], shown)))
    return out


def with_flags(flags: list[tuple[str, Any]], into: str = "fields") -> Callable[..., Any]:
    """Add ``flags`` (name, annotation) to a command's options; the command receives the
    ones the user gave (not None) as a dict in its ``into`` parameter."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != into]
        names = {p.name for p in own}
        added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None,
                                   annotation=a) for n, a in flags if n not in names]
        added_names = {p.name for p in added}

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            given = {n: kwargs.pop(n) for n in list(kwargs)
                     if n in added_names and kwargs[n] is not None}
            for n in added_names:
                kwargs.pop(n, None)
            return fn(**{into: given}, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
        return wrapper

    return deco


def attention_flags(only: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> Any:
    """:func:`with_flags` of :class:`~attncost.config.AttentionConfig`'s fields."""
    from ..config import AttentionConfig

    return with_flags(config_fields(AttentionConfig, only, exclude))


def model_flags() -> Any:
    """:func:`with_flags` of :class:`~attncost.config.ModelConfig`'s fields (other than the
    attention's), received in ``model_fields``."""
    from ..config import AttentionConfig, ModelConfig

    attn = {f.name for f in dataclasses.fields(AttentionConfig)}
    return with_flags(config_fields(ModelConfig, exclude=tuple(attn),
                                    shown="the preset's; needs --preset"),
                      into="model_fields")


# -- shared options ------------------------------------------------------------------------

def variant_option(default: str) -> Any:
    """``-v/--variant`` with the command's default shown."""
    return Annotated[Optional[list[str]], typer.Option(
        "--variant", "-v", help="Variant name(s): repeat the flag, separate with commas, or "
                                "'all'.", show_default=default)]


VariantOpt = variant_option("standard")
AllVariants = variant_option("all")
Layers = Annotated[Optional[int], typer.Option(
    help="Attention layers stacked.", show_default="1", parser=parse_int, metavar="INT")]
Blocks = Annotated[Optional[int], typer.Option(
    help="Attention layers stacked; with --preset, the model's transformer blocks.",
    show_default="1; with --preset, the preset's", parser=parse_int, metavar="INT")]
ModeOpt = Annotated[Mode, typer.Option(help="Which peak to check against the budget.")]
DeviceOpt = Annotated[Optional[str], typer.Option(help="A device from `attncost devices`.")]
Budget = Annotated[Optional[str], typer.Option(
    help="Memory budget instead of a device: '6GiB' (2^30) or '6GB' (10^9).")]
PeakT = Annotated[Optional[float], typer.Option(help="With --memory-budget: peak TFLOP/s.",
                                                parser=parse_float, metavar="NUMBER")]
Bandwidth = Annotated[Optional[float], typer.Option(
    help="With --memory-budget: bandwidth, GB/s.", parser=parse_float, metavar="NUMBER")]
Headroom = Annotated[float, typer.Option(help="Fraction of memory kept free, in [0, 1).",
                                         parser=parse_fraction, metavar="NUMBER")]
DecodeTok = Annotated[int, typer.Option(
    help="Inference: add the KV cache of this many tokens (batch included) to the budget "
         "(a sliding-window layer keeps at most its window per sequence).",
    parser=parse_count, metavar="INT")]
DevFile = Annotated[Optional[Path], typer.Option(help="TOML file with more devices.")]
VarFile = Annotated[Optional[list[Path]], typer.Option(
    help="Python file(s) that register extra variants (and their PyTorch modules).")]
FormatOpt = Annotated[Fmt, typer.Option("--format", "-f", help="Output format.")]


class Report(str, Enum):
    table = "table"
    json = "json"


ReportFormat = Annotated[Report, typer.Option("--format", "-f", help="Output format.")]


def preset_help() -> str:
    from ..config import preset_names

    return (f"Estimate a whole preset model ({', '.join(preset_names())}); flags override "
            f"its fields.")


def load_extras(variant_file: list[Path] | None, devices_file: Path | None) -> None:
    from .. import devices, variants

    for f in variant_file or []:
        variants.load_variant_file(f)
    if devices_file is not None:
        devices.load_devices_file(devices_file)


def device_of(device: str | None, memory_budget: str | None, peak_tflops: float | None = None,
              bandwidth: float | None = None) -> Any:
    """The device a command checks against: a catalogue name or a custom memory budget."""
    from ..devices import custom_device, get_device

    if device is not None and memory_budget is not None:
        raise AttncostError("give --device or --memory-budget, not both")
    if device is not None:
        return get_device(device)
    if memory_budget is not None:
        return custom_device(memory_budget, peak_tflops, bandwidth)
    if peak_tflops is not None or bandwidth is not None:
        raise AttncostError("--peak-tflops and --bandwidth need --memory-budget")
    return None


def writable(*paths: Path | None, folder: bool = False, figures: Sequence[Path | None] = ()
             ) -> None:
    """Refuse unwritable output paths (None: not given), and figure files that are not
    .png or .svg, before any work starts."""
    from ..files import check_writable

    for p in figures:
        if p is not None:
            from ..plots import check_figure_path

            check_figure_path(p)
    for p in (*paths, *figures):
        if p is not None:
            check_writable(p, folder=folder)


def require_suffix(path: Path, allowed: Sequence[str], flag: str = "--out") -> None:
    """Refuse an output path whose suffix is not one of ``allowed`` (one line)."""
    if path.suffix not in allowed:
        raise AttncostError(f"{flag} {path}: the suffix must be {', '.join(allowed[:-1])}"
                            f"{' or ' if len(allowed) > 1 else ''}{allowed[-1]}")


def given(name: str) -> bool:
    """Whether the user typed option ``name`` (not its default) in the running command."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    source = ctx.get_parameter_source(name) if ctx is not None else None
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def refuse_inert_device_flags(dev: Any, mode: "Mode") -> None:
    """One line (exit 2) for device flags the user gave that would change nothing, in every
    output format: --headroom or --decode-tokens without a device, --decode-tokens in train
    mode."""
    flags = [f for f in ("headroom", "decode_tokens") if given(f)]
    if dev is None and flags:
        raise AttncostError(f"--{flags[0].replace('_', '-')} has no effect without --device "
                            f"or --memory-budget: add one, or drop it")
    if "decode_tokens" in flags and mode is Mode.train:
        raise AttncostError("--decode-tokens has no effect in train mode (decoding's KV cache "
                            "counts in inference): add --mode infer, or drop it")


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def write_csv(rows: list[dict[str, Any]], fieldnames: Sequence[str] | None = None) -> None:
    import csv

    if not rows:
        return
    w = csv.DictWriter(sys.stdout, fieldnames=list(fieldnames or rows[0]), lineterminator="\n",
                       extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)


def console(stderr: bool = False) -> Any:
    """A rich console that never truncates names at narrow widths (tables fold instead)."""
    from rich.console import Console

    return Console(stderr=stderr)
