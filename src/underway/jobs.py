"""JobDefinition: a registered function, its options, its argument model and its fingerprint."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, get_type_hints

import pydantic
from pydantic import ConfigDict, TypeAdapter
from typing_extensions import TypedDict
from uuid_utils import uuid7

from .context import JobContext
from .errors import ConfigurationError, ValidationError
from .job_options import (
    UNIQUE_MODES,
    Backoff,
    JobOptions,
)
from .models import DependencyRule, NewJob, ResultsShape


def canonical(value: Any) -> Any:
    """Normalise JSON data so equal arguments hash equally (1 == 1.0, key order)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def fingerprint_of(name: str, args: dict[str, Any]) -> str:
    """Stable hash of a job name and its validated JSON arguments."""
    text = json.dumps(
        {"job": name, "args": canonical(args)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Dependencies:
    """What a job waits for, and how it takes their outcomes (see `NewJob`)."""

    after: tuple[str, ...] = ()
    workflow_id: str | None = None
    rule: DependencyRule = "completed"
    tolerate: int = 0
    results_into: str | None = None
    results_shape: ResultsShape = "list"


NO_DEPENDENCIES = Dependencies()


class JobDefinition:
    """A registered job: validates arguments, computes fingerprints and lanes, types results."""

    def __init__(self, fn: Callable[..., Any], options: JobOptions) -> None:
        self.fn = fn
        self.options = options
        self.name = options.name
        self.is_async = inspect.iscoroutinefunction(fn)
        hints = _type_hints(fn)
        self.context_param = _context_parameter(fn, hints)
        self.parameters = [
            p for p in inspect.signature(fn).parameters.values() if p.name != self.context_param
        ]
        self._hints = hints
        self.args_model = _arguments_model(self.name, self.parameters, hints)
        self._arg_names = tuple(self.args_model.model_fields)
        returns = hints.get("return", Any)
        self.result_adapter: TypeAdapter[Any] = TypeAdapter(Any if returns is None else returns)
        self._check_options()

    def _check_options(self) -> None:
        opts, names = self.options, {p.name for p in self.parameters}
        where = f"job {self.name!r}"
        if opts.unique is not None and opts.unique not in UNIQUE_MODES:
            raise ConfigurationError(f"{where}: unique must be one of {UNIQUE_MODES}")
        for field in opts.unique_by or ():
            if field not in names:
                raise ConfigurationError(f"{where}: unique_by names unknown argument {field!r}")
        if (opts.unique_by or opts.unique_for) and opts.unique is None:
            raise ConfigurationError(f"{where}: unique_by/unique_for need unique=")
        if opts.unique_for is not None and opts.unique == "queue":
            raise ConfigurationError(f"{where}: unique_for applies to unique='join' or 'skip'")
        if opts.concurrency is not None and opts.concurrency < 1:
            raise ConfigurationError(f"{where}: concurrency must be at least 1")
        if opts.concurrency_key is not None and opts.concurrency is None:
            raise ConfigurationError(f"{where}: concurrency_key needs concurrency=")
        if isinstance(opts.concurrency_key, str) and opts.concurrency_key not in names:
            raise ConfigurationError(
                f"{where}: concurrency_key names unknown argument {opts.concurrency_key!r}"
            )
        if opts.concurrency is not None and opts.unique == "queue":
            raise ConfigurationError(f"{where}: unique='queue' already runs one at a time")
        if opts.retries < 0:
            raise ConfigurationError(f"{where}: retries must not be negative")
        if opts.max_losses is not None and opts.max_losses < 1:
            raise ConfigurationError(f"{where}: max_losses must be at least 1")
        self._check_flow_options(names)
        for param in self.parameters:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ConfigurationError(f"{where}: *args/**kwargs are not supported")

    def _check_flow_options(self, names: set[str]) -> None:
        opts, where = self.options, f"job {self.name!r}"
        if opts.rate_key is not None and opts.rate_limit is None:
            raise ConfigurationError(f"{where}: rate_key needs rate_limit=")
        if isinstance(opts.rate_key, str) and opts.rate_key not in names:
            raise ConfigurationError(f"{where}: rate_key names unknown argument {opts.rate_key!r}")
        for option in ("retry_on", "discard_on"):
            for kind in getattr(opts, option) or ():
                if not (isinstance(kind, type) and issubclass(kind, BaseException)):
                    raise ConfigurationError(f"{where}: {option} takes exception classes")
        if opts.queue_limit is not None and (opts.unique != "queue" or opts.queue_limit < 1):
            raise ConfigurationError(f"{where}: queue_limit is at least 1, with unique='queue'")
        if opts.queue_full not in ("skip", "raise"):
            raise ConfigurationError(f'{where}: queue_full is "skip" or "raise"')

    @property
    def max_attempts(self) -> int:
        return self.options.retries + 1

    def validate(self, args: Mapping[str, Any], given_later: str | None = None) -> dict[str, Any]:
        """Check arguments against the signature; return them as plain JSON data. The
        parameter `given_later` (one that receives dependencies' results) is left out."""
        model = self.args_model if given_later is None else self._model_without(given_later)
        with self._validation_errors():
            data: dict[str, Any] = model.model_validate(args).model_dump(mode="json")
        return data

    @functools.cache  # noqa: B019 (definitions live as long as their app)
    def _model_without(self, parameter: str) -> type[pydantic.BaseModel]:
        if parameter not in self._arg_names:
            raise ConfigurationError(
                f"job {self.name!r} has no parameter {parameter!r} to receive results in"
            )
        kept = [p for p in self.parameters if p.name != parameter]
        return _arguments_model(f"{self.name}_without_{parameter}", kept, self._hints)

    def validate_many(self, arguments: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """`validate` for many calls in one pass; an error's location starts with the index."""
        with self._validation_errors():
            models = self._many_args.validate_python(list(arguments))
            data: list[dict[str, Any]] = self._many_args.dump_python(models, mode="json")
        return data

    @functools.cached_property
    def _many_args(self) -> TypeAdapter[list[Any]]:
        """A validator of a list of calls, built on the first `validate_many`."""
        many: Any = list[self.args_model]  # type: ignore[name-defined]
        return TypeAdapter(many)

    @contextlib.contextmanager
    def _validation_errors(self) -> Iterator[None]:
        try:
            yield
        except pydantic.ValidationError as exc:
            raise ValidationError(self.name, _plain_errors(exc)) from None
        except (TypeError, ValueError) as exc:
            error = {"loc": (), "msg": f"not JSON-serialisable: {exc}", "type": "json"}
            raise ValidationError(self.name, [error]) from None

    def bind(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], given_later: str | None = None
    ) -> dict[str, Any]:
        """Turn positional and keyword arguments into a dict keyed by parameter name (the
        parameter `given_later` takes none of them)."""
        if not args:
            return kwargs
        parameters = [p.name for p in self.parameters if p.name != given_later]
        if len(args) > len(parameters):
            error = {"loc": (), "msg": f"takes {len(parameters)} positional arguments"}
            raise ValidationError(self.name, [error])
        named = dict(zip(parameters, args, strict=False))
        clash = named.keys() & kwargs.keys()
        if clash:
            error = {"loc": (sorted(clash)[0],), "msg": "given both by position and by name"}
            raise ValidationError(self.name, [error])
        return {**named, **kwargs}

    def load_args(self, stored: dict[str, Any]) -> dict[str, Any]:
        """Rebuild the typed call arguments from stored JSON."""
        if not stored and not self._arg_names:
            return {}
        loaded: dict[str, Any] = self._stored_args.validate_python(stored)
        return loaded

    @functools.cached_property
    def _stored_args(self) -> TypeAdapter[Any]:
        """`args_model`'s checks as a TypedDict, answering a dict without building a model
        instance (a quarter of the time per job). Built on the first `load_args`."""
        return TypeAdapter(_arguments_dict(self.name, self.parameters, self._hints))

    def dump_result(self, value: Any) -> Any:
        """Turn a return value into JSON data, following the return annotation."""
        if value is None:
            return None
        return self.result_adapter.dump_python(value, mode="json")

    def load_result(self, stored: Any) -> Any:
        """Turn stored JSON back into the annotated return type."""
        return self.result_adapter.validate_python(stored)

    def fingerprint(self, args: dict[str, Any]) -> str:
        fields = self.options.unique_by
        chosen = {k: v for k, v in args.items() if fields is None or k in fields}
        return fingerprint_of(self.name, chosen)

    def lane(self, args: dict[str, Any], fingerprint: str | None) -> tuple[str | None, int | None]:
        """The concurrency lane of a job and its limit, or (None, None) when unlimited."""
        opts = self.options
        if opts.unique == "queue":
            return f"fp:{fingerprint}", 1
        if opts.concurrency is None:
            return None, None
        key = opts.concurrency_key
        if key is None:
            return f"job:{self.name}", opts.concurrency
        value = args[key] if isinstance(key, str) else key(**args)
        return f"job:{self.name}:{json.dumps(canonical(value), sort_keys=True)}", opts.concurrency

    def rate_key(self, args: dict[str, Any]) -> str | None:
        """The key a job's starts count under for its rate limit, or None when unlimited."""
        opts = self.options
        if opts.rate_limit is None:
            return None
        key = opts.rate_key
        if key is None:
            return f"job:{self.name}"
        value = args[key] if isinstance(key, str) else key(**args)
        return f"job:{self.name}:{json.dumps(canonical(value), sort_keys=True)}"

    def retry_delay(self, attempt: int) -> float:
        backoff = self.options.backoff
        return backoff.delay(attempt) if isinstance(backoff, Backoff) else float(backoff(attempt))

    def new_job(
        self,
        args: dict[str, Any],
        *,
        validated: bool = False,
        delay: float = 0.0,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
        record_skipped: bool = True,
        force_join: bool = False,
        recurring_id: str | None = None,
        fire_at: datetime | None = None,
        serial_lane: str | None = None,
        dependencies: Dependencies | None = None,
    ) -> NewJob:
        """Build the row `Backend.enqueue` stores, validating the arguments first unless
        `validated` says they are already the output of `validate` or `validate_many`."""
        waits = dependencies or NO_DEPENDENCIES
        data = args if validated else self.validate(args, waits.results_into)
        unique = self.options.unique
        if force_join and unique != "queue":
            unique = "join"
        fingerprint = self.fingerprint(data) if unique else None
        lane, limit = (serial_lane, 1) if serial_lane else self.lane(data, fingerprint)
        rate = self.options.rate_limit
        return NewJob(
            id=str(uuid7()),
            name=self.name,
            queue=queue or self.options.queue,
            priority=self.options.priority if priority is None else priority,
            args=data,
            max_attempts=self.max_attempts,
            retention_s=self.options.retention,
            run_at=run_at,
            delay_s=delay,
            fingerprint=fingerprint,
            unique=unique,
            unique_for_s=self.options.unique_for,
            lane=lane,
            lane_limit=limit,
            idempotency_key=idempotency_key,
            record_skipped=record_skipped,
            recurring_id=recurring_id,
            fire_at=fire_at,
            rate_key=self.rate_key(data),
            rate_limit=None if rate is None else rate.limit,
            rate_window_s=None if rate is None else rate.per,
            rate_fixed=rate is not None and rate.fixed,
            queue_limit=self.options.queue_limit,
            queue_full=self.options.queue_full,
            workflow_id=waits.workflow_id,
            after=waits.after,
            dependency_rule=waits.rule,
            tolerate=waits.tolerate,
            results_into=waits.results_into,
            results_shape=waits.results_shape,
        )

    def new_jobs(self, arguments: Iterable[Mapping[str, Any]]) -> list[NewJob]:
        """Validate many calls at once and build their rows (the first bad call raises)."""
        calls = self.validate_many(arguments)
        opts = self.options
        if opts.unique or opts.concurrency is not None or opts.rate_limit is not None:
            return [self.new_job(data, validated=True) for data in calls]
        # No fingerprint and no lane: only the id and the arguments differ from row to row,
        # so the rows skip `new_job`'s per-call options (a fifth of a bulk enqueue's time).
        name, queue, priority, attempts = self.name, opts.queue, opts.priority, self.max_attempts
        retention = opts.retention
        return [
            NewJob(str(uuid7()), name, queue, priority, data, attempts, retention) for data in calls
        ]


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise ConfigurationError(f"cannot resolve type hints of {fn.__qualname__}: {exc}") from exc


def _context_parameter(fn: Callable[..., Any], hints: dict[str, Any]) -> str | None:
    params = list(inspect.signature(fn).parameters.values())
    if params and hints.get(params[0].name) is JobContext:
        return params[0].name
    for param in params[1:]:
        if hints.get(param.name) is JobContext:
            raise ConfigurationError(f"{fn.__qualname__}: the JobContext parameter must come first")
    return None


def _arguments_model(
    name: str, params: list[inspect.Parameter], hints: dict[str, Any]
) -> type[pydantic.BaseModel]:
    fields: dict[str, Any] = {}
    for param in params:
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=False)
    try:
        model: type[pydantic.BaseModel] = pydantic.create_model(
            f"{name}_arguments", __config__=config, **fields
        )
    except (TypeError, pydantic.PydanticSchemaGenerationError) as exc:
        raise ConfigurationError(f"job {name!r}: arguments must be JSON types: {exc}") from exc
    return model


def _arguments_dict(name: str, params: list[inspect.Parameter], hints: dict[str, Any]) -> Any:
    """`_arguments_model` as a TypedDict: a parameter with a default may be left out (the
    function's default then applies), and unknown keys are refused."""
    fields: dict[str, Any] = {}
    for param in params:
        annotation = hints.get(param.name, Any)
        fields[param.name] = annotation if param.default is param.empty else NotRequired[annotation]
    # pydantic needs typing_extensions' TypedDict before Python 3.12; built at run time.
    typed_dict: Any = TypedDict
    arguments = typed_dict(f"{name}_arguments", fields)
    arguments.__pydantic_config__ = ConfigDict(extra="forbid", arbitrary_types_allowed=False)
    return arguments


def _plain_errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": tuple(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
