"""Fixtures for `leads mcp`: the installed command serving MCP in front of the live server,
over stdio (a `leads mcp` process per connection) and over streamable HTTP (one `leads mcp
--http` process for the session, every connection bringing its workspace token as its
bearer token)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import pytest

from tests.live_server import process_env
from tests.mcp.client import TRANSPORTS, HttpServer, http_tools, stdio_tools


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def mcp_http_server(live_server, tmp_path_factory) -> Iterator[HttpServer]:
    """One HTTP server for the session, with no token of its own: each connection brings its
    workspace's token as its bearer token."""
    log = tmp_path_factory.mktemp("mcp") / "http-server.log"
    with HttpServer(process_env(LEADS_API_URL=live_server.url), log) as server:
        yield server


@pytest.fixture
def mcp_log(tmp_path) -> Iterator[IO[str]]:
    with (tmp_path / "mcp-stderr.log").open("w+") as log:
        yield log


@pytest.fixture
def connect(leads_env, token, mcp_http_server, mcp_log, injector):
    """`async with connect(transport, **env) as tools`: a session with the workspace of
    `token`. stdio starts `leads <args>` with `leads_env` and `env` (a value of None removes
    the variable); http connects to the session's HTTP server."""

    def connect(transport: str = "stdio", args: tuple[str, ...] = ("mcp",), **env: str | None):
        if transport == "http":
            assert (args, env) == (("mcp",), {}), "the shared HTTP server has its own settings"
            return http_tools(mcp_http_server.url, token)
        return stdio_tools(process_env(**{**leads_env, **env}), mcp_log, args)

    return connect


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param
