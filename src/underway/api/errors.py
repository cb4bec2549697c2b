"""Every error answers a JSON error object; engine errors map to their HTTP status here."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import errors
from ..web.urls import route_path
from .paths import path_index
from .schemas import ErrorInfo, ErrorResponse, FieldError, JobStatus

log = logging.getLogger("underway.api")
STORAGE_RETRY_AFTER_S = 5
SUBMIT_PATH = re.compile(r"^/api/jobs/([^/]+)$")


class ApiError(Exception):
    """An answer other than success, raised from a handler and rendered by `error_response`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        job: JobStatus | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})
        self.job = job


def error_response(error: ApiError) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorInfo(code=error.code, message=error.message, details=error.details),
        job=error.job,
    )
    return JSONResponse(body.wire(), status_code=error.status, headers=error.headers)


def field_errors(raw: Iterable[Mapping[str, Any]], drop_prefix: int = 0) -> list[FieldError]:
    """Pydantic-style {loc, msg, type} errors as API field errors."""
    result = []
    for item in raw:
        loc = [p if isinstance(p, int) else str(p) for p in item.get("loc", ())][drop_prefix:]
        result.append(
            FieldError(
                code=str(item.get("type", "invalid")),
                message=str(item.get("msg", "invalid value")),
                target=".".join(str(p) for p in loc) or "(body)",
                loc=loc,
            )
        )
    return result


def install_error_handlers(api: FastAPI) -> None:
    """Register the handlers that turn every failure into a JSON error answer."""
    api.add_exception_handler(ApiError, _on_api_error)
    api.add_exception_handler(errors.ValidationError, _on_invalid_arguments)
    api.add_exception_handler(errors.UnknownJobError, _on_unknown_job)
    api.add_exception_handler(errors.JobNotFound, _on_job_not_found)
    api.add_exception_handler(errors.InvalidStateError, _on_invalid_state)
    api.add_exception_handler(errors.StorageUnavailable, _on_storage_unavailable)
    api.add_exception_handler(errors.DatabaseConfigurationError, _on_database_misconfigured)
    api.add_exception_handler(errors.RecurringNotFound, _on_recurring_not_found)
    api.add_exception_handler(errors.RecurringNameTaken, _on_recurring_name_taken)
    api.add_exception_handler(errors.QueueNotFound, _on_queue_not_found)
    api.add_exception_handler(errors.WorkflowNotFound, _on_workflow_not_found)
    api.add_exception_handler(errors.QueueFull, _on_queue_full)
    api.add_exception_handler(errors.ConfigurationError, _on_bad_definition)
    api.add_exception_handler(RequestValidationError, _on_request_validation)
    api.add_exception_handler(HTTPException, _on_http_exception)
    api.add_exception_handler(Exception, _on_unexpected)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _on_invalid_arguments(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ValidationError)
    details = field_errors(exc.errors)
    return error_response(ApiError(422, "InvalidArguments", str(exc), details=details))


async def _on_unknown_job(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(404, "UnknownJob", str(exc)))


async def _on_job_not_found(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(404, "JobNotFound", str(exc)))


async def _on_recurring_not_found(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(404, "RecurringNotFound", str(exc)))


async def _on_queue_not_found(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(404, "QueueNotFound", str(exc)))


async def _on_workflow_not_found(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(404, "WorkflowNotFound", str(exc)))


async def _on_recurring_name_taken(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(409, "NameTaken", str(exc)))


async def _on_queue_full(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(409, "QueueFull", str(exc)))


async def _on_bad_definition(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(422, "InvalidDefinition", str(exc)))


async def _on_invalid_state(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(409, "InvalidState", str(exc)))


async def _on_storage_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("storage unavailable: %s", exc)
    message = f"the job database is unavailable; retry later ({exc})"
    headers = {"Retry-After": str(STORAGE_RETRY_AFTER_S)}
    return error_response(ApiError(503, "StorageUnavailable", message, headers=headers))


async def _on_database_misconfigured(request: Request, exc: Exception) -> Response:
    """A database URL that cannot work: retrying will not help, so no 503 and no Retry-After."""
    log.error("the job database is misconfigured: %s", exc)
    message = f"the job database is misconfigured: {exc}"
    return error_response(ApiError(500, "DatabaseMisconfigured", message))


async def _on_request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = field_errors(exc.errors())
    names = ", ".join(d.target for d in details)
    message = f"invalid request parameters: {names}" if names else "invalid request"
    return error_response(ApiError(422, "InvalidRequest", message, details=details))


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _method_not_allowed(request)
    if exc.status_code == 404:
        message = f"no resource at {request.url.path}"
        return error_response(ApiError(404, "NotFound", message))
    headers = dict(exc.headers or {})
    return error_response(ApiError(exc.status_code, "HttpError", str(exc.detail), headers=headers))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(ApiError(500, "InternalError", "unexpected server error"))


def _method_not_allowed(request: Request) -> Response:
    path = route_path(request.scope)
    unknown = SUBMIT_PATH.match(path)
    if request.method == "POST" and unknown:
        return error_response(
            ApiError(404, "UnknownJob", f"no job named {unknown.group(1)!r} is registered")
        )
    found = path_index(request.scope).match(path)
    allowed = found[1] if found else []
    message = f"{request.method} is not allowed on {path}; use {', '.join(allowed)}"
    headers = {"Allow": ", ".join(allowed)}
    return error_response(ApiError(405, "MethodNotAllowed", message, headers=headers))
