"""Rate limits per token: 429 in the error shape with Retry-After and RateLimit-* headers,
on the in-memory storage and on the Redis server at 127.0.0.1:6379."""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import threading
import time

import pytest
import redis
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from app import create_app
from leads.web import rate_limits
from leads.web.rate_limits import KEY_PREFIX, FixedWindowMemoryStorage
from tests.contract import (
    MISSING_UUID,
    SUPPRESSIONS,
    SUPPRESSIONS_CHECK,
    ApiClient,
    make_token,
    stored_suppressions,
)

REDIS_URI = "redis://127.0.0.1:6379/0"
# Nothing listens on port 1: the storage is "down".
DEAD_REDIS_URI = "redis://127.0.0.1:1/0"
LIMIT = 3
# An hour-long window, so that no test straddles a window reset.
LIMIT_STRING = f"{LIMIT}/hour"
RATE_LIMITED = {
    "code": 429,
    "status": "Too Many Requests",
    "message": f"Rate limit of {LIMIT} per 1 hour exceeded for this token; "
    "retry after the number of seconds in Retry-After.",
}
CAMPAIGN_BODY = {"name": "Rate limited", "type": "email"}


def campaign_names(db) -> list[str]:
    with db.cursor() as cursor:
        cursor.execute("SELECT name FROM campaigns ORDER BY name")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture(params=["memory://", REDIS_URI, DEAD_REDIS_URI], ids=["memory", "redis", "down"])
def limited_app(request, database_url):
    app = create_app(
        {
            "database_url": database_url,
            "rate_limit": LIMIT_STRING,
            "rate_limit_storage_uri": request.param,
        }
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["leads_pool"].close()


@pytest.fixture
def limited_token(limited_app) -> str:
    return make_token(limited_app.extensions["leads_pool"], "acme")


@pytest.fixture
def limited_api(limited_app, limited_token) -> ApiClient:
    return ApiClient(limited_app, limited_token)


def assert_limit_headers(response, remaining: int) -> None:
    assert response.headers["RateLimit-Limit"] == str(LIMIT)
    assert response.headers["RateLimit-Remaining"] == str(remaining)
    assert 3590 <= int(response.headers["RateLimit-Reset"]) <= 3600


class TestRateLimits:
    def test_every_response_counts_down_then_429(self, limited_api, db):
        for remaining in range(LIMIT - 1, -1, -1):
            response = limited_api.get("/api/campaigns")
            assert response.status_code == 200
            assert response.json == {"campaigns": []}
            assert_limit_headers(response, remaining)
            assert "Retry-After" not in response.headers

        response = limited_api.post("/api/campaigns", json=CAMPAIGN_BODY)
        assert response.status_code == 429
        assert response.json == RATE_LIMITED
        assert_limit_headers(response, 0)
        assert response.headers["Retry-After"] == response.headers["RateLimit-Reset"]
        assert response.headers["X-Request-ID"]
        assert campaign_names(db) == []

    def test_one_budget_across_all_api_routes(self, limited_api):
        campaign = limited_api.create_campaign()
        assert limited_api.get(f"/api/campaigns/{campaign['id']}").status_code == 200
        assert limited_api.get(f"/api/campaigns/{campaign['id']}/leads").status_code == 200
        response = limited_api.post(f"/api/campaigns/{campaign['id']}/launch")
        assert response.status_code == 429
        assert response.json == RATE_LIMITED

    def test_the_suppression_routes_share_the_budget(self, limited_api, db):
        check = {"identities": [{"email": "a@example.com"}]}
        assert limited_api.get(SUPPRESSIONS).status_code == 200
        assert limited_api.post(SUPPRESSIONS_CHECK, json=check).status_code == 200
        assert limited_api.delete(SUPPRESSIONS, json={"ids": [MISSING_UUID]}).status_code == 200
        response = limited_api.post(
            SUPPRESSIONS, json={"entries": [{"kind": "email", "value": "a@example.com"}]}
        )
        assert (response.status_code, response.json) == (429, RATE_LIMITED)
        assert_limit_headers(response, 0)
        assert stored_suppressions(db) == []

    def test_each_token_has_its_own_budget(self, limited_app, limited_api, db):
        for _ in range(LIMIT):
            limited_api.get("/api/campaigns")
        assert limited_api.get("/api/campaigns").status_code == 429

        other = ApiClient(limited_app, make_token(limited_app.extensions["leads_pool"], "globex"))
        response = other.post("/api/campaigns", json=CAMPAIGN_BODY)
        assert response.status_code == 201
        assert_limit_headers(response, LIMIT - 1)
        assert campaign_names(db) == [CAMPAIGN_BODY["name"]]

    @pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs", "/metrics"])
    def test_paths_outside_api_are_not_limited(self, limited_app, path):
        client = limited_app.test_client()
        for _ in range(LIMIT + 2):
            response = client.get(path)
            assert response.status_code == 200
            assert "RateLimit-Limit" not in response.headers

    @pytest.mark.parametrize(
        "authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"], ids=str
    )
    def test_requests_without_a_valid_token_share_the_client_budget(
        self, limited_app, authorization
    ):
        # Redis keeps counts across runs: each run is a client of its own (an address from
        # the IPv6 documentation range; it only ever appears in the WSGI environ).
        client = limited_app.test_client()
        client.environ_base["REMOTE_ADDR"] = (
            f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
        )
        headers = {"Authorization": authorization} if authorization else {}
        for remaining in range(LIMIT - 1, -1, -1):
            response = client.get("/api/campaigns", headers=headers)
            assert response.status_code == 401
            assert_limit_headers(response, remaining)
        response = client.get("/api/campaigns", headers=headers)
        assert response.status_code == 429
        assert response.json == RATE_LIMITED


class TestSeveralLimits:
    """LEADS_RATE_LIMIT may hold several limits: each counts, the smallest window shows."""

    @pytest.fixture
    def make_client(self, database_url):
        apps = []

        def make(limit_string: str) -> ApiClient:
            app = create_app({"database_url": database_url, "rate_limit": limit_string})
            apps.append(app)
            return ApiClient(app, make_token(app.extensions["leads_pool"], "acme"))

        yield make
        for app in apps:
            app.extensions["leads_pool"].close()

    @pytest.mark.parametrize(
        ("limits", "shown", "remaining", "broken", "broken_seconds"),
        [
            # The smallest window shows until it is the one broken.
            ("5/day;2/hour", "2", (1, 0), "2 per 1 hour", 3600),
            # A longer window broken first is the one reported.
            ("3/hour;2/day", "3", (2, 1), "2 per 1 day", 86400),
        ],
        ids=["smallest-broken", "longer-broken-first"],
    )
    def test_every_limit_counts_and_the_headers_name_the_one_that_matters(
        self, make_client, db, limits, shown, remaining, broken, broken_seconds
    ):
        client = make_client(limits)
        for left in remaining:
            response = client.get("/api/campaigns")
            assert response.status_code == 200
            assert response.headers["RateLimit-Limit"] == shown
            assert response.headers["RateLimit-Remaining"] == str(left)
            assert 3590 <= int(response.headers["RateLimit-Reset"]) <= 3600
        response = client.post("/api/campaigns", json=CAMPAIGN_BODY)
        assert response.status_code == 429
        assert response.json == {
            **RATE_LIMITED,
            "message": f"Rate limit of {broken} exceeded for this token; "
            "retry after the number of seconds in Retry-After.",
        }
        assert response.headers["RateLimit-Limit"] == broken.split()[0]
        assert response.headers["RateLimit-Remaining"] == "0"
        assert broken_seconds - 10 <= int(response.headers["Retry-After"]) <= broken_seconds
        assert campaign_names(db) == []


class FlakyStorage(MemoryStorage):
    """A storage that fails while `down`, like a Redis that stopped answering."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.checks = 0

    def incr(self, *args, **kwargs):
        if self.down:
            raise ConnectionError("storage down")
        return super().incr(*args, **kwargs)

    def check(self) -> bool:
        self.checks += 1
        return not self.down


class TestStorageOutage:
    """While a shared storage fails, counts go to the process's memory; the storage is tried
    again after 1, 2, 4 ... seconds, and counts go back to it once it answers."""

    @pytest.fixture
    def clock(self, monkeypatch):
        now = [1000.0]
        monkeypatch.setattr(rate_limits.time, "monotonic", lambda: now[0])
        return now

    def test_counts_move_to_memory_and_back(self, clock, caplog):
        caplog.set_level(logging.INFO, logger="leads")
        storage = FlakyStorage()
        limiter = rate_limits.TokenRateLimiter([parse("10/hour")], storage, fallback=True)
        assert limiter.check("token:abc").remaining == 9

        storage.down = True
        assert [limiter.check("token:abc").remaining for _ in range(3)] == [9, 8, 7]
        assert "rate limit storage unreachable" in caplog.text
        assert storage.checks == 0  # not tried again before a second has passed

        clock[0] += 1.5
        assert limiter.check("token:abc").remaining == 6  # tried: still down
        assert storage.checks == 1
        clock[0] += 1.5
        assert limiter.check("token:abc").remaining == 5
        assert storage.checks == 1  # the next try waits 2 s

        storage.down = False
        clock[0] += 1
        assert limiter.check("token:abc").remaining == 8  # the storage's own count again
        assert storage.checks == 2
        assert "rate limit storage answers again" in caplog.text

    def test_retries_back_off_up_to_32_seconds(self, clock):
        storage = FlakyStorage()
        storage.down = True
        limiter = rate_limits.TokenRateLimiter([parse("10/hour")], storage, fallback=True)
        limiter.check("token:abc")
        tried_at = []
        for second in range(1, 200):
            clock[0] = 1000.0 + second
            checks = storage.checks
            limiter.check("token:abc")
            if storage.checks > checks:
                tried_at.append(second)
        gaps = [later - earlier for earlier, later in itertools.pairwise(tried_at)]
        assert tried_at[0] == 1
        assert gaps[:5] == [2, 4, 8, 16, 32]
        assert set(gaps[5:]) == {32}

    def test_without_fallback_a_failure_is_an_error(self):
        storage = FlakyStorage()
        storage.down = True
        limiter = rate_limits.TokenRateLimiter([parse("10/hour")], storage, fallback=False)
        with pytest.raises(ConnectionError):
            limiter.check("token:abc")


class TestRedisStorage:
    def test_counts_live_in_redis_under_the_token_hash(self, database_url, pool):
        app = create_app(
            {
                "database_url": database_url,
                "rate_limit": LIMIT_STRING,
                "rate_limit_storage_uri": REDIS_URI,
            }
        )
        try:
            token = make_token(pool, "acme")
            ApiClient(app, token).get("/api/campaigns")
            # A second app (another worker) shares the count through Redis.
            second = create_app(
                {
                    "database_url": database_url,
                    "rate_limit": LIMIT_STRING,
                    "rate_limit_storage_uri": REDIS_URI,
                }
            )
            response = ApiClient(second, token).get("/api/campaigns")
            assert_limit_headers(response, LIMIT - 2)
            second.extensions["leads_pool"].close()
        finally:
            app.extensions["leads_pool"].close()

        token_hash = hashlib.sha256(token.encode()).hexdigest()
        keys = [key.decode() for key in redis.Redis.from_url(REDIS_URI).keys(f"*{KEY_PREFIX}*")]
        ours = [key for key in keys if token_hash in key]
        assert len(ours) == 1
        assert not any(token in key for key in keys)


class TestFixedWindowMemoryStorage:
    """The in-process storage counts as limits' MemoryStorage does, without a thread."""

    def test_the_service_counts_in_it(self, database_url):
        app = create_app({"database_url": database_url, "rate_limit": LIMIT_STRING})
        try:
            assert type(app.extensions["rate_limiter"].storage) is FixedWindowMemoryStorage
        finally:
            app.extensions["leads_pool"].close()

    def test_counts_as_memory_storage_does(self):
        item = parse("3/hour")
        plain, ours = (
            FixedWindowRateLimiter(cls()) for cls in (MemoryStorage, FixedWindowMemoryStorage)
        )
        answers = {}
        for name, limiter in (("plain", plain), ("ours", ours)):
            hits = [limiter.hit(item, "token:abc") for _ in range(5)]
            other = limiter.hit(item, "token:def")
            stats = limiter.get_window_stats(item, "token:abc")
            answers[name] = (hits, other, stats.remaining, round(stats.reset_time))
        assert answers["ours"] == answers["plain"]
        assert answers["ours"][:3] == ([True, True, True, False, False], True, 0)

    def test_counting_starts_no_thread(self):
        before = set(threading.enumerate())
        limiter = FixedWindowRateLimiter(FixedWindowMemoryStorage())
        for _ in range(5):
            limiter.hit(parse("10/hour"), "token:abc")
            time.sleep(0.012)
        assert set(threading.enumerate()) == before

    def test_a_window_restarts_once_it_has_ended(self):
        limiter = FixedWindowRateLimiter(FixedWindowMemoryStorage())
        item = parse("1/second")
        assert [limiter.hit(item, "token:abc") for _ in range(2)] == [True, False]
        time.sleep(1.05)
        assert limiter.get_window_stats(item, "token:abc").remaining == 1
        assert limiter.hit(item, "token:abc")

    def test_ended_windows_are_dropped_on_a_later_hit(self, monkeypatch):
        monkeypatch.setattr(rate_limits, "SWEEP_SECONDS", 0)
        storage = FixedWindowMemoryStorage()
        limiter = FixedWindowRateLimiter(storage)
        assert limiter.hit(parse("1/second"), "token:abc")
        assert limiter.hit(parse("1/hour"), "token:def")
        time.sleep(1.05)
        assert limiter.hit(parse("1/hour"), "token:ghi")
        assert storage.reset() == 2  # token:def and token:ghi; token:abc's window was dropped


class TestTheTestsApp:
    def test_tests_run_without_limits(self, api):
        response = api.get("/api/campaigns")
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response.headers
