"""Reading a request body under the `MAX_REQUEST_BYTES` limit."""

from __future__ import annotations

from starlette.requests import Request

from api.errors import RequestTooLargeError


def _too_large(limit: int) -> RequestTooLargeError:
    return RequestTooLargeError(
        f"The request body is larger than the gateway's limit of {limit} bytes (MAX_REQUEST_BYTES)."
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or a 413 as soon as it (declared or actual) passes `limit`.

    The declared `Content-Length` is checked first so an honest client is refused
    without uploading; a chunked or lying body is cut off while it streams in.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
