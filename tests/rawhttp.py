"""A tiny raw-socket HTTP/1.1 client for tests that must control how a request reaches the server:
bodies in pieces with pauses between them, lying Content-Length headers, bytes no client library sends."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("utf-8", "surrogateescape")


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    """One response: the status line, headers, and a body framed by Content-Length (or until close)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()
    return RawResponse(int(status_line.split()[1]), headers, body)


async def send_in_pieces(
    host: str, port: int, head: bytes, pieces: list[bytes], *, pause: float = 0.0, timeout: float = 10.0,
) -> RawResponse:
    """Send ``head`` then each piece (flushed, ``pause`` seconds apart) and read the answer."""
    reader, writer = await asyncio.open_connection(host, port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each piece goes out as its own segment
    try:
        writer.write(head)
        await writer.drain()
        for piece in pieces:
            if pause:
                await asyncio.sleep(pause)
            writer.write(piece)
            await writer.drain()
        return await asyncio.wait_for(read_response(reader), timeout)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]
