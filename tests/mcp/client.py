"""The MCP side of the tests: `leads mcp` reached with the SDK's own client (ClientSession)
over stdio or streamable HTTP, and what its answers must look like."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent, Tool

from tests.contract import free_port
from tests.live_server import LEADS_BIN

TRANSPORTS = ["stdio", "http"]
# How long a `leads mcp --http` process may take to listen: far above what it needs.
START_TIMEOUT = 30  # seconds


@dataclass
class Tools:
    """An initialized MCP session, with the checks every test makes of a tool's answer."""

    session: ClientSession

    @property
    def instructions(self) -> str | None:
        return self.session.instructions

    async def list(self) -> dict[str, Tool]:
        return {tool.name: tool for tool in (await self.session.list_tools()).tools}

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        return await self.session.call_tool(name, arguments or {})

    async def ok(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """The structured result of a call that succeeded. The session has already checked
        it against the tool's output schema; the text for the model is the same JSON."""
        result = await self.call(name, arguments)
        assert not result.is_error, result.content
        assert [block.type for block in result.content] == ["text"]
        assert json.loads(result.content[0].text) == result.structured_content
        return result.structured_content

    async def error(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        """The text of a call that failed (a tool error, never a protocol error)."""
        result = await self.call(name, arguments)
        assert result.is_error, result.structured_content
        assert result.structured_content is None
        assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
        return result.content[0].text


@asynccontextmanager
async def stdio_tools(
    env: dict[str, str], errlog: IO[str], args: Sequence[str] = ("mcp",)
) -> AsyncIterator[Tools]:
    """`leads <args>` started by the SDK's stdio client, with exactly `env`."""
    server = StdioServerParameters(command=str(LEADS_BIN), args=list(args), env=env)
    async with stdio_client(server, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield Tools(session)


@asynccontextmanager
async def http_tools(url: str, token: str | None) -> AsyncIterator[Tools]:
    """A streamable HTTP connection to `url`, with `token` as its bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx2.Timeout(30, read=300)  # the SDK's own client's timeouts
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield Tools(session)


class HttpServer:
    """A `leads mcp --http` process, stopped on leaving; its output goes to `log`."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._log = log.open("w")
        self._process = subprocess.Popen(
            [str(LEADS_BIN), "mcp", "--http", "--port", str(self.port), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> HttpServer:
        try:
            self._wait_until_listening()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"leads mcp --http exited {self._process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"leads mcp --http did not listen within {START_TIMEOUT} s")

    def __exit__(self, *exc_info: object) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._log.close()


def api_error(tool: str, body: dict) -> str:
    """The text of the tool error that carries this API error body."""
    text = f"Error executing tool {tool}: {body['message']} (HTTP {body['code']})"
    if "errors" in body:
        text += "\nDetails: " + json.dumps(body["errors"], ensure_ascii=False)
    return text
