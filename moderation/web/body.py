"""The one body reader of the service: every endpoint that reads a request body goes through here.

``request.content.read(n)`` returns only what has arrived so far, so a body split across TCP
segments was cut short. ``read_body`` reads until the end of the body (aiohttp's parser honours
Content-Length and chunked encoding and tells us where the body ends), counts bytes as they
arrive so an oversized body is refused without being buffered (413), and gives up on a body that
stops arriving (408 ``body_timeout``). ``read_form`` and ``read_json`` build on it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from ..appkeys import SETTINGS
from ..errors import BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from ..validation import parse_form, parse_json


async def read_body(request: web.Request) -> bytes:
    """The whole raw body: 413 over ``max_body_bytes``, 408 if it stops arriving, 400 if cut off."""
    settings = request.config_dict[SETTINGS]
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        # One deadline for the whole body, not per read: a client trickling a byte a second is as stuck.
        async with asyncio.timeout(settings.body_timeout_seconds):
            while True:
                chunk = await request.content.readany()
                if not chunk:  # end of the body as framed by Content-Length or chunked encoding
                    break
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {settings.body_timeout_seconds:g} seconds."
        ) from None
    except (ConnectionError, HttpProcessingError):
        # The client went away mid-body: nothing half-read may be stored.
        raise BadRequest("The request body ended before it was complete.", code="incomplete_body") from None
    body = b"".join(chunks)
    if request.content_length is not None and len(body) != request.content_length:
        raise BadRequest("The request body ended before it was complete.", code="incomplete_body")
    return body


async def read_json(request: web.Request) -> Any:
    """The body parsed as strict JSON (any JSON value: the caller checks its shape)."""
    return parse_json(await read_body(request))


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """An ``application/x-www-form-urlencoded`` body (415 for another content type)."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("Send application/x-www-form-urlencoded.")
    return parse_form(await read_body(request))


async def close_if_body_unread(request: web.Request, response: web.StreamResponse) -> None:
    """Close the connection after answering a request whose body was not read to its end.

    Without this aiohttp lingers reading the rest (up to 10 s), and a client that never sends it
    would hold the connection; the next request on it could not be framed anyway.
    """
    if not request.content.is_eof():
        response.force_close()
        response.headers["Connection"] = "close"  # headers are already prepared when this signal runs
