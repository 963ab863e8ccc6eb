"""Typed errors. Every message is one line naming the bad value and what is allowed.

The CLI prints ``error: <message>`` and exits with status 2 for any :class:`AttncostError`.
"""


class AttncostError(ValueError):
    """Base class for every error attncost raises on bad input."""


class ConfigError(AttncostError):
    """A dimension or option is invalid (zero, negative, not dividing, out of range)."""


class UnknownNameError(AttncostError):
    """An unknown variant, device, preset, metric or dtype."""


class UnsupportedError(AttncostError):
    """The variant cannot do what was asked (e.g. causal masking for Linformer)."""


def unknown(kind: str, value: object, allowed: object) -> UnknownNameError:
    """Build the standard 'unknown X' error with the allowed names listed."""
    names = ", ".join(sorted(str(a) for a in allowed))
    return UnknownNameError(f"unknown {kind} {value!r}; allowed: {names}")
