"""What every settings section is built on: a frozen, strict pydantic model, and the
problems of a configuration as ``key: what is wrong`` lines, all of them at once.

A leaf module (pydantic only), so each package can keep its settings beside its code.

Validation has two steps:

1. pydantic validates each value on its own (type, range, choice, format): the model's
   field constraints and validators;
2. ``checks()`` looks at values together (a maximum above its minimum, a secret when
   URLs are set, one owner per dialled number). It runs on the values as given even when
   step 1 refused some of them, so a configuration's problems are listed in one go; only
   a wrong shape (a string for a number, a missing name, an unknown key) skips it.

Every problem names its key (``ami.port``, ``queues[1].name``, ``ivr[0].options.1``).
A value is never echoed for a secret (a field declared with ``repr=False``).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.fields import FieldInfo

Loc = tuple[str | int, ...]


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` lists each bad key and why."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class Problem:
    """One thing wrong at ``loc``; ``key`` replaces the dotted ``loc`` in the text when a
    problem belongs to no single key (``number 1000: used by both ...``)."""

    loc: Loc
    message: str
    key: str | None = None

    def within(self, prefix: Loc) -> Problem:
        return Problem((*prefix, *self.loc), self.message, self.key)

    def text(self) -> str:
        return f"{self.key or dotted(self.loc)}: {self.message}"


@dataclass(frozen=True)
class Hint:
    """The message for a field's constraint errors (``{input}``: the value given),
    in ``Annotated[...]`` beside ``Field(ge=..., le=...)``."""

    text: str


class Settings(BaseModel):
    """A settings section: frozen, strict TOML types (an int is taken for a float, never
    a string for a number), unknown keys refused. TOML arrays become tuples."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _arrays_are_tuples(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return data

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        """The values taken together (step 2), locations relative to this section."""
        return ()


NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


def _name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(f"{name!r} must be letters, digits, '-' or '_'")
    return name


# Letters, digits, '-' and '_', a letter first (names, agent ids, the server id).
Name = Annotated[str, AfterValidator(_name)]

# A prompt part: a stock sound ("silence/1", "im-sorry"), or "site:NAME", a recording of
# the site's own brought in by `callcenter prompts import NAME FILE`.
_STOCK_SOUND = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
SITE_PREFIX = "site:"


def _prompt(value: str) -> str:
    for part in value.split("&"):
        if part.startswith(SITE_PREFIX):
            if not NAME_RE.match(part[len(SITE_PREFIX) :]):
                raise ValueError(f"{part!r}: after site: comes a prompt name, letters first")
        elif not _STOCK_SOUND.match(part) or ".." in part:
            raise ValueError(
                f"{part!r} is not a sound name (e.g. silence/1) nor site:NAME; join several with &"
            )
    return value


# Sound file(s) played to the caller, '&'-joined, without extension.
Prompt = Annotated[str, AfterValidator(_prompt)]


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# -- step 1: pydantic's errors as problems ---------------------------------------------

_TYPE_NAMES = {
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "string": "a string",
}


def _model_in(annotation: Any) -> type[Settings] | None:
    """The settings model a field holds (itself, or the items of a tuple)."""
    if isinstance(annotation, type) and issubclass(annotation, Settings):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is tuple or origin is types.UnionType or origin is typing.Union:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _is_str_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is not tuple:
        return False
    item, *_ = typing.get_args(annotation)
    if typing.get_origin(item) is typing.Annotated:
        item = typing.get_args(item)[0]
    return bool(item is str)


def _walk(root: type[Settings], loc: Loc) -> tuple[list[tuple[int, FieldInfo | None]], int]:
    """Per part of ``loc``: (sort rank, the field it names); and how many leading parts
    name fields or array indexes (the rest is inside one value)."""
    model: type[Settings] | None = root
    out: list[tuple[int, FieldInfo | None]] = []
    depth = 0
    inside = False
    for part in loc:
        if isinstance(part, int):
            out.append((part, None))
            if not inside:
                depth += 1
            continue
        names = list(model.model_fields) if model is not None else []
        if model is not None and part in names and not inside:
            field = model.model_fields[part]
            out.append((names.index(part), field))
            depth += 1
            model = _model_in(field.annotation)
            inside = model is None
        else:
            out.append((len(names), None))
            inside = True
    return out, depth


def _sort_key(root: type[Settings], loc: Loc) -> tuple[int, ...]:
    # A key's own problems come after those of its items (urls[0] before urls).
    return (*(rank for rank, _ in _walk(root, loc)[0]), 1 << 30)


def _from_error(root: type[Settings], err: Mapping[str, Any]) -> Problem:
    kind: str = err["type"]
    loc: Loc = tuple(p for p in err["loc"] if p != "[key]")
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    if kind == "value_error":  # our validators' own words
        return Problem(loc, str(ctx.get("error", err["msg"])))
    if kind == "extra_forbidden":
        parent = root
        for _, f in _walk(root, loc[:-1])[0]:
            parent = (_model_in(f.annotation) if f is not None else None) or parent
        known = ", ".join(n for n in parent.model_fields if n not in _HIDDEN)
        return Problem(loc, f"unknown {'section' if len(loc) == 1 else 'key'} (known: {known})")
    if kind == "missing":
        return Problem(loc, "required")
    walked, depth = _walk(root, loc)
    named = [i for i in range(depth) if walked[i][1] is not None]
    if not named:
        return Problem(loc, str(err["msg"]))
    field = walked[named[-1]][1]
    assert field is not None
    at = loc[: named[-1] + 1]  # the key the problem is reported at
    own = at == loc
    scalar_type = own and (kind.endswith("_type") or kind.endswith("_parsing"))
    if _model_in(field.annotation) is not None and kind in ("tuple_type", "model_type"):
        if typing.get_origin(field.annotation) is tuple:
            return Problem(at, f"must be an array of tables ([[{dotted(at)}]])")
        return Problem(at, f"must be a table ([{dotted(at)}])")
    hint = next((m.text for m in field.metadata if isinstance(m, Hint)), None)
    if hint is not None and not (scalar_type and kind != "tuple_type"):
        return Problem(at, hint.format(input=value))
    if _is_str_list(field.annotation) and (kind == "tuple_type" or not own):
        return Problem(at, "must be a list of strings")
    secret = field.repr is False
    if kind.endswith("_type") or kind.endswith("_parsing"):
        name = _TYPE_NAMES.get(kind.rsplit("_", 1)[0], "of another type")
        got = "" if secret else f", got {type(value).__name__} {value!r}"
        return Problem(loc, f"must be {name}{got}")
    shown = "" if secret else f", got {value!r}"
    if kind == "literal_error":
        choices = sorted(str(c) for c in typing.get_args(field.annotation))
        listed = ", ".join(c if c else '""' for c in choices)
        return Problem(loc, f"{'the value' if secret else repr(value)} is not one of {listed}")
    if kind == "greater_than":
        return Problem(loc, f"must be greater than {_number(ctx['gt'])}")
    if kind == "greater_than_equal":
        least = ctx["ge"]
        return Problem(
            loc, "must not be negative" if least == 0 else f"must be at least {_number(least)}"
        )
    if kind in ("less_than_equal", "less_than"):
        return Problem(loc, f"must be at most {_number(ctx.get('le', ctx.get('lt')))}{shown}")
    return Problem(loc, str(err["msg"]))


def _number(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


# Fields of the root that are not keys of the file.
_HIDDEN = frozenset({"base_dir"})

# Errors after which the values cannot be looked at together (step 2 is skipped).
_SHAPE = ("missing", "extra_forbidden", "model_type", "tuple_type", "dict_type")


def _shape_error(kind: str) -> bool:
    return kind in _SHAPE or kind.endswith("_type") or kind.endswith("_parsing")


# -- step 2 on values that step 1 refused ----------------------------------------------


def _lenient(model: type[Settings], data: Mapping[str, Any]) -> Settings:
    """The model holding the values as given (the shape is right, some values are not),
    for ``checks()`` to look at them together."""
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        field = model.model_fields.get(name)
        if field is not None:
            kwargs[name] = _lenient_value(field.annotation, value)
    return model.model_construct(**kwargs)


def _lenient_value(annotation: Any, value: Any) -> Any:
    inner = _model_in(annotation)
    if inner is not None and isinstance(value, Mapping):
        return _lenient(inner, value)
    if isinstance(value, list | tuple):
        return tuple(_lenient_value(annotation, v) for v in value)
    if isinstance(value, Mapping):  # a table kept as (key, value) pairs
        return tuple(sorted(value.items()))
    return value


def all_checks(section: Settings, environ: Mapping[str, str], at: Loc = ()) -> list[Problem]:
    """Step 2 through the whole tree: each section's subsections, then its own checks."""
    out: list[Problem] = []
    for name in type(section).model_fields:
        value = getattr(section, name, None)
        if isinstance(value, Settings):
            out += all_checks(value, environ, (*at, name))
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if isinstance(item, Settings):
                    out += all_checks(item, environ, (*at, name, i))
    return out + [p.within(at) for p in section.checks(environ)]


S = TypeVar("S", bound=Settings)


def validate(
    model: type[S],
    data: Mapping[str, Any],
    *,
    environ: Mapping[str, str],
    prefix: Loc = (),
    extra: Mapping[str, Any] | None = None,
) -> tuple[S | None, list[str]]:
    """Both steps: the settings (None when anything is wrong) and every problem, each
    ``key: what`` (keys under ``prefix``), in the order of the keys."""
    problems: list[Problem] = []
    settings: S | None = None
    try:
        settings = model.model_validate({**data, **(extra or {})})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [_from_error(model, e) for e in errors]
        if not any(_shape_error(e["type"]) for e in errors):
            lenient = _lenient(model, data)
            problems += all_checks(lenient, environ)
    else:
        problems = all_checks(settings, environ)
    problems.sort(key=lambda p: _sort_key(model, p.loc))
    lines = list(dict.fromkeys(p.within(prefix).text() for p in problems))
    return (None if lines else settings), lines
