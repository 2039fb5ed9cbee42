"""A Jinja2 sandbox with limits, so a template cannot exhaust memory or time.

Jinja2's SandboxedEnvironment keeps templates away from Python's internals but not from
`{{ 'x' * 1000000000 }}`, nested loops or recursive macros. Here every way a template has to
make something big or to run long is bounded:

- `*`, `**`, `+` and `%` are intercepted (`intercepted_binops`/`call_binop`): a string or list
  may not grow past the output limit, a power may not exceed a few thousand bits;
- `~` (concatenation) goes through the same size check (the code generator is told to);
- `range` is small, and every loop iteration and every call (macros, `loop(...)` recursion)
  spends one step of a budget and checks the deadline;
- output is produced in chunks and counted;
- filters and string methods that pad or repeat (center, indent, format, ljust, ...) are gone.

Going past a limit raises `TemplateLimitExceeded`. The render itself runs in a worker thread
(`render_limited`), so even a template that hits a limit never stalls the event loop.
"""

from __future__ import annotations

import contextvars
import operator
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment


class TemplateLimitExceeded(Exception):
    """A template asked for more than a message may take (size, steps or time)."""


@dataclass(frozen=True)
class Limits:
    output_chars: int = 20_000  # a status update's own maximum length
    steps: int = 100_000  # loop iterations + calls
    seconds: float = 1.0
    range_items: int = 1_000
    power_bits: int = 4_096


@dataclass
class _Budget:
    limits: Limits
    deadline: float
    steps: int = 0
    output: int = field(default=0)

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise TemplateLimitExceeded(f"the template takes more than {self.limits.steps} steps")
        if time.monotonic() > self.deadline:
            raise TemplateLimitExceeded(
                f"the template takes longer than {self.limits.seconds:g} s to render"
            )

    def size(self, length: int) -> None:
        if length > self.limits.output_chars:
            raise TemplateLimitExceeded(
                f"the template makes text longer than {self.limits.output_chars} characters"
            )


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "govsvc_template_budget", default=None
)

# Filters that pad, repeat or format to a width of the template's choosing.
_UNSAFE_FILTERS = ("center", "indent", "wordwrap", "format", "replace", "xmlattr", "sum")
# String methods that do the same when called from a template.
_UNSAFE_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map", "replace"}
)
_SIZED = (str, list, tuple, bytes)
_WIDE_FORMAT = re.compile(r"%[-+ #0]*(?:\d{4,}|\*)|%[^%a-z]*\.(?:\d{4,}|\*)")


def _budget() -> _Budget:
    budget = _BUDGET.get()
    if budget is None:  # only render_limited renders; anything else gets the defaults
        budget = _Budget(Limits(), time.monotonic() + Limits().seconds)
    return budget


class _LimitedCodeGenerator(CodeGenerator):
    """Routes every loop's iterable and every `~` through the environment's checks."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("counted"), [node.iter], [], None, None, lineno=node.lineno
        )
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class LimitedEnvironment(SandboxedEnvironment):
    code_generator_class = _LimitedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, trim_blocks=True)
        self.globals["range"] = self.range
        for name in _UNSAFE_FILTERS:
            self.filters.pop(name, None)
        plain_join = self.filters["join"]

        def join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
            # A long separator between many items multiplies: size it before joining.
            items = list(value)
            _budget().size(len(str(d)) * max(len(items) - 1, 0))
            return str(plain_join(eval_ctx, items, d, attribute))

        join.jinja_pass_arg = plain_join.jinja_pass_arg  # type: ignore[attr-defined]
        self.filters["join"] = join

    def range(self, *args: int) -> range:
        items = range(*args)
        if len(items) > _budget().limits.range_items:
            raise TemplateLimitExceeded(
                f"range is limited to {_budget().limits.range_items} items in templates"
            )
        return items

    def counted(self, iterable: Iterable[Any]) -> Iterator[Any]:
        budget = _budget()
        for item in iterable:
            budget.step()
            yield item

    def concat(self, parts: Iterable[Any]) -> str:
        texts = [str(part) for part in parts]
        _budget().size(sum(len(t) for t in texts))
        return "".join(texts)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _UNSAFE_METHODS:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _budget().step()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.step()
        if operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, _SIZED) and isinstance(times, int):
                    budget.size(len(seq) * max(times, 0))
            return left * right
        if operator_ == "+":
            if isinstance(left, _SIZED) and isinstance(right, _SIZED):
                budget.size(len(left) + len(right))
            return left + right
        if operator_ == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and max(abs(left), 2).bit_length() * right > budget.limits.power_bits
            ):
                raise TemplateLimitExceeded("the template computes too large a power")
            try:
                return operator.pow(left, right)
            except OverflowError:
                raise TemplateLimitExceeded("the template computes too large a power") from None
        if operator_ == "%" and isinstance(left, str):
            # printf-style widths and precisions are a template's other way to pad.
            result = self.intercepted_format(left, right)
            budget.size(len(result))
            return result
        return super().call_binop(context, operator_, left, right)

    def intercepted_format(self, template: str, values: Any) -> str:
        if _WIDE_FORMAT.search(template):
            raise TemplateLimitExceeded("format widths are limited in templates")
        return str(template % values)


ENVIRONMENT = LimitedEnvironment()


def render_limited(body: str, values: Mapping[str, Any], limits: Limits) -> str:
    """Render `body` within `limits` (call it in a worker thread); counts output as it goes."""
    budget = _Budget(limits, time.monotonic() + limits.seconds)
    token = _BUDGET.set(budget)
    try:
        template = ENVIRONMENT.from_string(body)
        parts: list[str] = []
        for chunk in template.generate(**values):
            budget.output += len(chunk)
            budget.size(budget.output)
            budget.step()
            parts.append(chunk)
        return "".join(parts)
    finally:
        _BUDGET.reset(token)
