"""python -m bench.profile_post: where a POST of 1000 leads spends its time inside the service.

The bench's batch (every profile field, three custom fields) goes through the app in process
(Flask's test client, no HTTP server) against a database of its own, each time to a new
campaign so that every run imports 1000 leads. After a warm-up, the POSTs are timed without
the profiler, then profiled with cProfile: the table gives each stage's share of the POSTs'
time, then the functions that cost most on their own.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

from app import create_app
from bench.database import BenchDatabase
from bench.measure import lead_batch

# Where the time goes: the cumulative time of these functions (callees included), as a
# share of the POSTs' own. Schema validation is Schema.load's time less the emails'.
STAGES = (
    ("email normalization (email_validator)", "leads/domain/identity.py", "normalize_email"),
    ("request shape (marshmallow schemas)", "marshmallow/schema.py", "load"),
    ("database statements (psycopg2, server time included)", "~", "execute"),
    ("response body (orjson)", "leads/web/json_bodies.py", "outcome_response"),
)


def cumulative(stats: pstats.Stats, path_part: str, function: str) -> float:
    return sum(
        entry[3]
        for (filename, _, name), entry in stats.stats.items()
        if name == function
        and path_part in filename
        or (path_part == "~" and filename == "~" and f"'{function}'" in name)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="profiled POSTs (default 20)")
    parser.add_argument("--top", type=int, default=15, help="functions listed (default 15)")
    args = parser.parse_args()

    database = BenchDatabase()
    database.create()
    try:
        token = database.create_token()
        app = create_app({"database_url": database.url, "rate_limit": None})
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def post(campaign_id: str, number: int) -> None:
            response = client.post(
                f"/api/campaigns/{campaign_id}/leads",
                json={"prospects": lead_batch(f"p{number}")},
                headers=headers,
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            assert response.json["imported"] == 1000, response.json

        campaigns = [database.create_campaign(f"profile {n}").id for n in range(3 + 2 * args.runs)]
        for number in range(3):
            post(campaigns[number], number)
        started = time.perf_counter()
        for number in range(3, 3 + args.runs):
            post(campaigns[number], number)
        plain = (time.perf_counter() - started) / args.runs

        profiler = cProfile.Profile()
        for number in range(3 + args.runs, 3 + 2 * args.runs):
            batch_campaign = campaigns[number]
            profiler.enable()
            post(batch_campaign, number)
            profiler.disable()
    finally:
        database.drop()

    stats = pstats.Stats(profiler)
    whole = cumulative(stats, "bench/profile_post.py", "post")
    emails = cumulative(stats, *STAGES[0][1:])
    shares = {
        STAGES[0][0]: emails,
        STAGES[1][0]: cumulative(stats, *STAGES[1][1:]) - emails,
        STAGES[2][0]: cumulative(stats, *STAGES[2][1:]),
        STAGES[3][0]: cumulative(stats, *STAGES[3][1:]),
    }
    shares["everything else (Flask, JSON parsing, ids, hooks)"] = whole - sum(shares.values())
    print(f"POST of 1000 leads in process, {args.runs} runs: {plain * 1000:.1f} ms a POST")
    print("without the profiler; shares of the profiled POSTs' time:\n")
    print("| stage | share |")
    print("|---|---|")
    for stage, seconds in shares.items():
        print(f"| {stage} | {seconds / whole:.0%} |")
    print()
    stats.stream = sys.stdout
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
