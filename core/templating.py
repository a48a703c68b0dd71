"""Binding parameters are Jinja2 templates rendered in the sandbox, with the
event as `event`. A missing label is an error, not an empty string: running a
remediation against "" is worse than not running it.

Templates render in Jinja2's immutable sandbox, on deep copies of what they
are given: `{{ params.update(...) }}`, `{{ event.labels.clear() }}` or
`{{ x.append(1) }}` are refused, and nothing a template does can reach the
stored event, the parameters or anything else the caller keeps. Each render
has a time limit (STEWARD_TEMPLATE_TIME_LIMIT_MS, checked at every step of
every loop and every call) and an output limit (STEWARD_TEMPLATE_MAX_OUTPUT).

Any failure of a template (a syntax or sandbox error, but also `{{ 1 // 0 }}`
raising ZeroDivisionError, a limit passed, or output the database cannot
store) is a RenderError: the caller records it against the one binding or
runbook whose template it is, and every other one goes on."""

import contextvars
import copy
import time
from functools import lru_cache

from django.conf import settings
from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core import storable

# Characters or items one step of a template may build. Rendering runs in
# the web request: `{{ 9 ** 9 ** 9 }}` or `{{ "x" * 10 ** 9 }}` in one
# binding would hold a worker's CPU or memory for every matching alert.
MAX_SIZE = 100_000
MAX_BITS = 1_000_000
_PADDING = {"center", "ljust", "rjust", "zfill", "expandtabs"}


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# When the render in progress must end (time.monotonic()), or None.
_deadline: contextvars.ContextVar = contextvars.ContextVar("template_deadline", default=None)
_BOUNDED = "steward_bounded"  # the filter every {% for %} loop runs through


def _on_time() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise SecurityError(f"the template took longer than {settings.STEWARD_TEMPLATE_TIME_LIMIT_MS} ms to render")


def _bounded(items):
    """A loop's items, checking the time limit before each: a loop bomb
    (`{% for a in range(99999) %}{% for b in range(99999) %}` with an empty
    body) writes nothing and calls nothing, so only its steps can stop it."""
    for item in items:
        _on_time()
        yield item


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox (no method that changes a list, dict or
    set), with the operators and string methods that build a huge value from
    a short template refused (SecurityError, so the run fails with the
    reason), and every loop and call on the render's clock. Filters are not
    bounded here: see MAX_SIZE."""

    intercepted_binops = frozenset({"**", "*"})

    def _parse(self, source, name, filename):
        # Every {% for %} iterates through _bounded, so the time limit holds
        # in a loop that does nothing else.
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _BOUNDED, [], [], None, None, lineno=loop.lineno)
        return tree

    def call_binop(self, context, operator, left, right):
        _on_time()
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
        _on_time()
        padding = getattr(__obj, "__name__", "") in _PADDING and isinstance(getattr(__obj, "__self__", None), str)
        if padding and any(_integer(a) and a > MAX_SIZE for a in (*args, *kwargs.values())):
            raise SecurityError(f"{__obj.__name__}() of more than {MAX_SIZE} characters")
        return super().call(__context, __obj, *args, **kwargs)


def host_of(value) -> str:
    """The host of an address, its port stripped: `web-02:9100` → `web-02`,
    `[2001:db8::1]:9100` → `2001:db8::1`, a bare IPv6 address as it is.
    How `{{ event.labels.instance | host }}` names an alert's machine."""
    text = str(value).strip()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text


_env = _Sandbox(undefined=StrictUndefined, autoescape=False)
_env.filters[_BOUNDED] = _bounded
_env.filters["host"] = host_of


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
    """Render every string inside `parameters` (nested too) on a copy of
    `context`: even a hole in the immutable sandbox could change only the
    copy, never the caller's event or parameters. Raises RenderError naming
    the template and what went wrong, whatever it was."""
    try:
        context = copy.deepcopy(context)
    except Exception as exc:  # a context of plain data always copies; say so if not
        raise RenderError(f"the template's context cannot be copied: {exc}") from None
    return _render(parameters, context)


def _render(parameters, context: dict):
    if isinstance(parameters, str):
        if "{" not in parameters:
            return parameters
        limit = settings.STEWARD_TEMPLATE_MAX_OUTPUT
        token = _deadline.set(time.monotonic() + settings.STEWARD_TEMPLATE_TIME_LIMIT_MS / 1000)
        try:
            chunks, size = [], 0
            for chunk in _template(parameters).generate(context):
                size += len(chunk)
                if size > limit:
                    raise SecurityError(f"the output is longer than {limit} characters")
                chunks.append(chunk)
                _on_time()
            rendered = "".join(chunks)
        except TemplateError as exc:
            raise RenderError(f"{parameters!r}: {exc}") from None
        except Exception as exc:
            # A template may raise anything ({{ 1 // 0 }}): it is the failure
            # of one binding's template, never of the request.
            raise RenderError(f"{parameters!r}: {type(exc).__name__}: {exc}") from None
        finally:
            _deadline.reset(token)
        try:
            storable.check_text(rendered, "the output")
        except storable.NotStorable as exc:
            raise RenderError(f"{parameters!r}: {exc}") from None
        return rendered
    if isinstance(parameters, dict):
        return {k: _render(v, context) for k, v in parameters.items()}
    if isinstance(parameters, list):
        return [_render(v, context) for v in parameters]
    return parameters
