"""Binding parameters are Jinja2 templates rendered in the sandbox, with the
event as `event`. A missing label is an error, not an empty string: running a
remediation against "" is worse than not running it.

Any failure of a template (a syntax or sandbox error, but also `{{ 1 // 0 }}`
raising ZeroDivisionError, or output the database cannot store) is a
RenderError: the caller records it against the one binding or runbook whose
template it is, and every other one goes on."""

from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from core import storable

# Characters or items one step of a template may build. Rendering runs in
# the web request: `{{ 9 ** 9 ** 9 }}` or `{{ "x" * 10 ** 9 }}` in one
# binding would hold a worker's CPU or memory for every matching alert.
MAX_SIZE = 100_000
MAX_BITS = 1_000_000
_PADDING = {"center", "ljust", "rjust", "zfill", "expandtabs"}


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox, with the operators and string methods that build a
    huge value from a short template refused (SecurityError, so the run
    fails with the reason). Filters are not bounded here: see MAX_SIZE."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and _integer(left) and _integer(right) and left.bit_length() * right > MAX_BITS:
            raise SecurityError(f"a power of more than {MAX_BITS} bits is too large to compute here")
        if operator == "*" and _integer(left) and _integer(right):
            if left.bit_length() + right.bit_length() > MAX_BITS:
                raise SecurityError(f"a product of more than {MAX_BITS} bits is too large to compute here")
        elif operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and _integer(times) and len(sequence) * times > MAX_SIZE:
                    raise SecurityError(f"the product would hold more than {MAX_SIZE} items")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):
        # Jinja2's own signature (the double underscores keep keyword
        # arguments named "self" or "context" free for the callee).
        padding = getattr(__obj, "__name__", "") in _PADDING and isinstance(getattr(__obj, "__self__", None), str)
        if padding and any(_integer(a) and a > MAX_SIZE for a in (*args, *kwargs.values())):
            raise SecurityError(f"{__obj.__name__}() of more than {MAX_SIZE} characters")
        return super().call(__context, __obj, *args, **kwargs)


_env = _Sandbox(undefined=StrictUndefined, autoescape=False)


class RenderError(ValueError):
    pass


@lru_cache(maxsize=2048)
def _template(source: str):
    return _env.from_string(source)


def check(parameters) -> None:
    """Raise RenderError if a template does not compile, or a value could
    never be stored (NUL, lone surrogates, deep nesting)."""
    if not isinstance(parameters, dict):
        raise RenderError("parameters must be an object")
    try:
        storable.check(parameters, "parameters")
    except storable.NotStorable as exc:
        raise RenderError(str(exc)) from None
    for name, value in _strings(parameters, ""):
        try:
            _template(value)
        except TemplateError as exc:
            raise RenderError(f"{name}: {exc}") from None


def _strings(value, where):
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{where}.{k}" if where else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i}]")


def render(parameters, context: dict):
    """Render every string inside `parameters` (nested too). Raises
    RenderError naming the template and what went wrong, whatever it was."""
    if isinstance(parameters, str):
        if "{" not in parameters:
            return parameters
        try:
            rendered = _template(parameters).render(context)
        except TemplateError as exc:
            raise RenderError(f"{parameters!r}: {exc}") from None
        except Exception as exc:
            # A template may raise anything ({{ 1 // 0 }}): it is the failure
            # of one binding's template, never of the request.
            raise RenderError(f"{parameters!r}: {type(exc).__name__}: {exc}") from None
        try:
            storable.check_text(rendered, "the output")
        except storable.NotStorable as exc:
            raise RenderError(f"{parameters!r}: {exc}") from None
        return rendered
    if isinstance(parameters, dict):
        return {k: render(v, context) for k, v in parameters.items()}
    if isinstance(parameters, list):
        return [render(v, context) for v in parameters]
    return parameters
