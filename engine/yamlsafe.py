"""One bounded YAML loader for every YAML text a user hands us.

Spec files, study files, Markdown front matter and the dashboard's Overrides box all load
through :func:`load_yaml`. It is PyYAML's safe loader (the fast C parser where installed, no
arbitrary objects) with bounds that make a hostile document cheap to refuse:

* **size**: the text is measured before anything parses it;
* **nesting depth**: counted while the document is composed, so a 100,000-deep document is
  refused at the first node past the limit, without recursion;
* **aliases**: ``*alias`` reuses an ``&anchor``'d node. The expanded size of the document (each
  alias counted as a full copy of what it names, a scalar weighing its length) may not exceed a
  small multiple of what is written, so a "billion laughs" document is refused after a few
  hundred nodes; an alias inside its own anchor (a recursive structure) is refused;
* **scalars**: integers longer than :attr:`YamlLimits.max_int_digits` characters are refused
  before Python converts them (a 5,000-digit number would otherwise raise ``ValueError``);
  timestamps stay the text they were written as; ``!!binary``, ``!!set``, ``!!omap`` and
  ``!!pairs`` are refused;
* **keys**: every mapping key must be text, and a key may appear once per mapping.

Every refusal is an :class:`InputError` naming the source and the 1-based line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

from engine.errors import InputError

__all__ = ["DEFAULT_YAML_LIMITS", "YamlLimits", "compose_yaml", "load_yaml"]

# The C parser is only an event source here; composing stays in Python so it can be bounded.
_CParser: Any
try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml: the pure-Python parser, same events
    _CParser = None
_Parser: Any = _CParser or yaml.parser.Parser
_Reader: Any = None if _CParser is not None else (yaml.reader.Reader, yaml.scanner.Scanner)


@dataclass(frozen=True)
class YamlLimits:
    """Bounds on one YAML document."""

    max_chars: int = field(
        default=5_000_000, metadata={"help": "longest YAML text accepted, in characters"}
    )
    max_depth: int = field(
        default=64, metadata={"help": "deepest nesting of lists and mappings accepted"}
    )
    alias_factor: int = field(
        default=10,
        metadata={
            "help": "how many times larger than its written size a document may grow once "
            "its aliases are expanded"
        },
    )
    alias_floor: int = field(
        default=10_000,
        metadata={"help": "expanded size always allowed, so small documents may use aliases"},
    )
    max_int_digits: int = field(
        default=100, metadata={"help": "longest integer literal accepted, in characters"}
    )

    def __post_init__(self) -> None:
        for name in ("max_chars", "max_depth", "alias_factor", "alias_floor", "max_int_digits"):
            if getattr(self, name) < 1:
                raise InputError("must be a positive whole number", field=name)


DEFAULT_YAML_LIMITS = YamlLimits()


class _Refused(yaml.MarkedYAMLError):
    """A bound was crossed; carries the mark where it happened and the field path, if known."""

    field: str | None = None


def _refused(problem: str, mark: Any, field: str | None = None) -> _Refused:
    exc = _Refused(None, None, problem, mark)
    exc.field = field
    return exc


class _BoundedComposer(Composer):
    """PyYAML's composer with depth and alias-expansion bookkeeping.

    ``_weight`` is the expanded size of each finished node (by ``id``); a node still being
    composed has no weight yet, so an alias to it is recursion.
    """

    limits: YamlLimits
    # Provided by the parser class mixed in next to this one.
    check_event: Callable[..., bool]
    get_event: Callable[[], Any]
    peek_event: Callable[[], Any]

    def _init_bounds(self, limits: YamlLimits) -> None:
        self.limits = limits
        self._depth = 0
        self._written = 0  # the size of the document as written
        self._expanded = 0  # the size with every alias expanded
        self._weight: dict[int, int] = {}
        self._path: list[str] = []  # field path of the node being composed

    def _where(self) -> str | None:
        return "".join(self._path).lstrip(".") or None

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            event = self.get_event()
            target: Node | None = self.anchors.get(event.anchor)
            if target is None:
                raise _refused(f"found undefined alias {event.anchor!r}", event.start_mark)
            weight = self._weight.get(id(target))
            if weight is None:
                raise _refused(
                    f"alias *{event.anchor} is used inside its own anchor; recursive "
                    "structures are not accepted",
                    event.start_mark,
                )
            self._expanded += weight
            allowed = max(self.limits.alias_floor, self.limits.alias_factor * self._written)
            if self._expanded > allowed:
                raise _refused(
                    f"aliases expand the document past {self.limits.alias_factor}x its written "
                    "size; write the repeated parts out instead of using *aliases",
                    event.start_mark,
                )
            return target
        event = self.peek_event()
        if isinstance(event, SequenceStartEvent | MappingStartEvent):
            self._depth += 1
            if self._depth > self.limits.max_depth:
                raise _refused(
                    f"nested more than {self.limits.max_depth} levels deep",
                    event.start_mark,
                )
        before = self._expanded
        if isinstance(index, int):
            self._path.append(f"[{index}]")
        elif isinstance(index, ScalarNode):
            self._path.append(f".{index.value}")
        else:
            self._path.append("")
        node: Node = super().compose_node(parent, index)  # type: ignore[assignment]
        if isinstance(node, MappingNode):
            self._check_keys(node)
        self._path.pop()
        if isinstance(event, ScalarEvent):
            own = 1 + len(event.value)
        else:
            own = 1
            self._depth -= 1
        self._written += own
        self._expanded += own
        self._weight[id(node)] = self._expanded - before
        return node

    def _check_keys(self, node: MappingNode) -> None:
        """Every key is text and appears once; merged-in keys (``<<``) may be overridden,
        which is what a merge is for."""
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if not (isinstance(key_node, ScalarNode) and key_node.tag == "tag:yaml.org,2002:str"):
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a list or mapping"
                raise _refused(
                    f"field names must be text, got {shown!r}", key_node.start_mark, self._where()
                )
            if key_node.value in seen:
                raise _refused(
                    f"key {key_node.value!r} appears twice in the same mapping",
                    key_node.start_mark,
                    self._where(),
                )
            seen.add(key_node.value)


class _BoundedConstructor(SafeConstructor):
    limits: YamlLimits

    def construct_yaml_int(self, node: ScalarNode) -> int:
        if len(node.value) > self.limits.max_int_digits:
            raise _refused(
                f"a number of {len(node.value):,} characters; the limit is "
                f"{self.limits.max_int_digits}",
                node.start_mark,
            )
        value: int = super().construct_yaml_int(node)
        return value

    def construct_yaml_float(self, node: ScalarNode) -> float:
        if len(node.value) > self.limits.max_int_digits:
            raise _refused(
                f"a number of {len(node.value):,} characters; the limit is "
                f"{self.limits.max_int_digits}",
                node.start_mark,
            )
        value: float = super().construct_yaml_float(node)
        return value

    def construct_yaml_timestamp(self, node: ScalarNode) -> str:  # type: ignore[override]
        # A date-looking name or version stays the text the user wrote.
        return str(node.value)

    def construct_unsupported(self, node: Node) -> Any:
        raise _refused(f"the YAML tag {node.tag} is not accepted here", node.start_mark)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Keys were checked while composing (text only, each once); merges may override.
        self.flatten_mapping(node)
        return {k.value: self.construct_object(v, deep=deep) for k, v in node.value}


_ctor: Any = _BoundedConstructor  # PyYAML's stubs type add_constructor too narrowly
for _tag in ("binary", "set", "omap", "pairs"):
    _ctor.add_constructor(f"tag:yaml.org,2002:{_tag}", _ctor.construct_unsupported)
_ctor.add_constructor(None, _ctor.construct_unsupported)
_ctor.add_constructor("tag:yaml.org,2002:timestamp", _ctor.construct_yaml_timestamp)
_ctor.add_constructor("tag:yaml.org,2002:int", _ctor.construct_yaml_int)
_ctor.add_constructor("tag:yaml.org,2002:float", _ctor.construct_yaml_float)


def _loader_class() -> type:
    if _Reader is None:
        bases: tuple[type, ...] = (_BoundedComposer, _Parser, _BoundedConstructor, Resolver)
    else:
        bases = (*_Reader, _Parser, _BoundedComposer, _BoundedConstructor, Resolver)

    def __init__(self: Any, stream: str, limits: YamlLimits) -> None:  # noqa: N807
        if _Reader is None:
            _Parser.__init__(self, stream)
        else:
            _Reader[0].__init__(self, stream)
            _Reader[1].__init__(self)
            _Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._init_bounds(limits)

    return type("_BoundedLoader", bases, {"__init__": __init__})


_Loader: Any = _loader_class()


def load_yaml(text: str, *, source: str | None, limits: YamlLimits = DEFAULT_YAML_LIMITS) -> Any:
    """The single YAML document in ``text`` as plain Python values, within ``limits``.

    Raises:
        InputError: naming ``source`` and the line, for invalid YAML or a crossed bound.
    """
    if len(text) > limits.max_chars:
        raise InputError(
            f"YAML text is {len(text):,} characters; the limit is {limits.max_chars:,}",
            source=source,
        )
    loader = _Loader(text, limits)
    loader.constructed_objects = {}
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        prefix = "" if isinstance(exc, _Refused) else "not valid YAML: "
        raise InputError(
            f"{prefix}{problem}",
            source=source,
            line=mark.line + 1 if mark is not None else None,
            field=getattr(exc, "field", None),
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", source=source) from None
    finally:
        loader.dispose()


def compose_yaml(text: str, *, limits: YamlLimits = DEFAULT_YAML_LIMITS) -> Node | None:
    """The node tree of ``text`` (for finding where a field is written), or ``None`` if the
    text is not a YAML document within ``limits``."""
    if len(text) > limits.max_chars:
        return None
    loader = _Loader(text, limits)
    try:
        node: Node | None = loader.get_single_node()
        return node
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
