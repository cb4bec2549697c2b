"""What the client raises besides the library's own errors: answers it has no better type for."""

from __future__ import annotations

from ..errors import UnderwayError


class ApiError(UnderwayError):
    """The server answered with an error the client has no more specific type for."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}: {message}")


class NotAuthorized(ApiError, PermissionError):
    """401 (no token, or an unknown one) or 403 (the token lacks the scope, or the client is
    remote and the server has no tokens)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        hint = "pass Client(token=...)" if status == 401 else "use a token with that scope"
        self.args = (f"{status} {code}: {message} ({hint})",)


class ServerUnreachable(UnderwayError, ConnectionError):
    """The server could not be reached (refused, reset, timed out); safe to try again."""
