"""The one body reader of the service: every endpoint that reads a request body goes through here.

``request.content.read(n)`` returns only what has arrived so far, so a body split across TCP
segments was cut short. ``read_body`` reads until the end of the body (aiohttp's parser honours
Content-Length and chunked encoding and tells us where the body ends), counts bytes as they
arrive so an oversized body is refused without being buffered (413), and gives up on a body that
stops arriving (408 ``body_timeout``). ``read_form`` and ``read_json`` build on it.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDict, MultiDictProxy

from ..errors import BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from ..keys import SETTINGS

# Deeper JSON than any of our bodies needs; checked before parsing, so nesting can never recurse deeply.
MAX_JSON_DEPTH = 32
MAX_FORM_FIELDS = 1000
# Strings (skipped whole, escapes included) and the brackets that open or close a level.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


async def read_body(request: web.Request) -> bytes:
    """The whole raw body: 413 over ``max_body_bytes``, 408 if it stops arriving, 400 if cut off."""
    settings = request.app[SETTINGS]
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


def check_json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """400 for JSON nested deeper than ``limit`` (checked before ``json.loads`` can recurse)."""
    depth = 0
    for match in _JSON_TOKENS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise BadRequest(f"Malformed JSON: nested deeper than {limit} levels.", code="malformed_json")
        elif token in (b"]", b"}"):
            depth -= 1


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e400 parses to infinity
        raise ValueError("number out of range")
    return value


def parse_json(body: bytes) -> Any:
    """Strict JSON: valid UTF-8, depth-bounded, no NaN/Infinity, numbers in range; 400 otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", code="invalid_encoding") from None
    check_json_depth(body)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON: {exc.msg} at position {exc.pos}.", code="malformed_json") from None
    except (ValueError, RecursionError) as exc:  # NaN, 1e400, an integer of more than 4300 digits
        raise BadRequest(f"Malformed JSON: {exc}.", code="malformed_json") from None


async def read_json(request: web.Request) -> Any:
    """The body parsed as strict JSON (any JSON value: the caller checks its shape)."""
    return parse_json(await read_body(request))


def parse_form(body: bytes) -> MultiDictProxy[str]:
    """An urlencoded body in strict UTF-8 (400 otherwise), every value kept in order."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", code="invalid_encoding") from None
    except ValueError as exc:  # too many fields
        raise BadRequest(f"Malformed form body: {exc}", code="bad_request") from None
    return MultiDictProxy(MultiDict(pairs))


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
