"""Binding parameters are Jinja2 templates rendered in the sandbox, with the
event as `event`. A missing label is an error, not an empty string: running a
remediation against "" is worse than not running it."""

from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class RenderError(ValueError):
    pass


@lru_cache(maxsize=2048)
def _template(source: str):
    return _env.from_string(source)


def check(parameters) -> None:
    """Raise RenderError if a template does not compile."""
    if not isinstance(parameters, dict):
        raise RenderError("parameters must be an object")
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
    """Render every string inside `parameters` (nested too)."""
    if isinstance(parameters, str):
        if "{" not in parameters:
            return parameters
        try:
            return _template(parameters).render(context)
        except TemplateError as exc:
            raise RenderError(f"{parameters!r}: {exc}") from None
    if isinstance(parameters, dict):
        return {k: render(v, context) for k, v in parameters.items()}
    if isinstance(parameters, list):
        return [render(v, context) for v in parameters]
    return parameters
