"""A 25,000-row CSV import through the installed command that fails at its 13th batch (the
service answers 503, the connection drops before or after the write, or the client is
killed), then is re-run to completion: the campaign ends with exactly the 25,000 leads."""

from __future__ import annotations

import os
import re
import subprocess

import psycopg2.extras
import pytest

from leads_contract.values import LEAD_STATUSES
from tests.cli.conftest import lead_summary as summary
from tests.live_server import LEADS_BIN, Fault

ROWS = 25_000
BATCH = 1_000
FAILING_BATCH = 13
RESUME_HINT = (
    "leads: the import stopped before the end; re-run the same command to finish it "
    "(rows already imported will count as duplicates).\n"
)


def email(number: int) -> str:
    return f"lead{number:05d}@example.com"


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("big") / "leads.csv"
    with open(path, "w", encoding="utf-8", newline="") as stream:
        stream.write("Email,First Name,Last Name,Company,Segment\n")
        for number in range(ROWS):
            stream.write(
                f"{email(number)},First{number},Last,Company {number % 97},s{number % 5}\n"
            )
    return str(path)


def roster(db, campaign_id: str) -> dict:
    """What the database holds for the campaign: identities, counters and stored stats."""
    with db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
        cursor.execute(
            "SELECT count(*) AS leads, count(DISTINCT identity) AS identities, "
            "array_agg(identity ORDER BY identity) AS sorted, "
            "count(*) FILTER (WHERE custom_fields = jsonb_build_object('Segment', "
            "  's' || (substring(identity from 5 for 5)::int %% 5))) AS with_segment "
            "FROM leads WHERE campaign_id = %s",
            (campaign_id,),
        )
        leads = cursor.fetchone()
        cursor.execute(
            "SELECT status::text, lead_count FROM campaign_lead_counts WHERE campaign_id = %s",
            (campaign_id,),
        )
        counts = {row["status"]: row["lead_count"] for row in cursor.fetchall()}
        cursor.execute("SELECT stats FROM campaigns WHERE id = %s", (campaign_id,))
        stats = cursor.fetchone()["stats"]
    return {**leads, "counts": counts, "stats": stats}


def assert_holds_first(db, campaign_id: str, count: int) -> None:
    state = roster(db, campaign_id)
    assert (state["leads"], state["identities"]) == (count, count)
    assert (state["sorted"] or []) == [email(number) for number in range(count)]


def add_command(campaign_id: str, path: str) -> list[str]:
    return ["--retries", "2", "campaign", "lead", "add", "--id", campaign_id, "--file", path]


class TestInterruptedImport:
    @pytest.mark.parametrize(
        "kind, written_before_failure, rerun_flags",
        [
            ("503", (FAILING_BATCH - 1) * BATCH, []),
            ("drop-before", (FAILING_BATCH - 1) * BATCH, []),
            ("drop-after", FAILING_BATCH * BATCH, []),
            # New keys: the API cannot replay, and its dedup alone keeps the roster exact.
            ("drop-after", FAILING_BATCH * BATCH, ["--fresh-keys"]),
        ],
    )
    def test_rerun_completes_and_doubles_nothing(
        self,
        run_leads,
        live_server,
        api,
        db,
        injector,
        email_campaign,
        big_csv,
        kind,
        written_before_failure,
        rerun_flags,
    ):
        campaign_id = email_campaign["id"]
        # Every try from the 13th batch on fails: the command gives up after its retries.
        injector.arm(Fault(kind, first=FAILING_BATCH))
        first = run_leads(*add_command(campaign_id, big_csv))

        assert first.exit_code == 1
        done = (FAILING_BATCH - 1) * BATCH
        assert first.json == summary(rows=done, imported=done, complete=False)
        *retries, hint, error = first.stderr.splitlines(keepends=True)
        assert len(retries) == 2
        assert hint == RESUME_HINT
        if kind == "503":
            assert retries == [
                f"leads: HTTP 503 Injected; retrying in 0.0s (retry {n} of 2)\n" for n in (1, 2)
            ]
            assert error == "Error: Injected 503. (HTTP 503)\n"
        else:
            for line in retries:
                assert re.fullmatch(
                    r"leads: RemoteProtocolError: Server disconnected without sending a "
                    r"response\.; retrying in \d\.\ds \(retry [12] of 2\)\n",
                    line,
                ), line
            assert error == (
                f"Error: Could not reach the API at {live_server.url} after 3 attempts: "
                "RemoteProtocolError: Server disconnected without sending a response.\n"
            )
        first_requests = list(injector.requests)
        assert [len(request.items) for request in first_requests] == [BATCH] * 15
        keys = [request.idempotency_key for request in first_requests]
        assert keys[12] == keys[13] == keys[14]
        assert len(set(keys)) == FAILING_BATCH
        assert_holds_first(db, campaign_id, written_before_failure)

        injector.reset()
        second = run_leads(*add_command(campaign_id, big_csv), *rerun_flags)

        assert (second.exit_code, second.stderr) == (0, "")
        second_requests = list(injector.requests)
        assert len(second_requests) == ROWS // BATCH
        second_keys = [request.idempotency_key for request in second_requests]
        written_batches = written_before_failure // BATCH
        if rerun_flags:
            assert set(second_keys).isdisjoint(keys)
            assert not any(request.replayed for request in second_requests)
            replayed_batches = 0
        else:
            # The re-run sends the same batches under the same keys, and the API replays
            # the answer of every batch it had written.
            assert second_keys[:FAILING_BATCH] == keys[:FAILING_BATCH]
            assert [request.replayed for request in second_requests] == [
                number < written_batches for number in range(ROWS // BATCH)
            ]
            replayed_batches = written_batches
        new_rows = ROWS - written_before_failure
        assert second.json == summary(
            rows=ROWS,
            # A replayed batch reports what its first request did: all imported.
            imported=new_rows + replayed_batches * BATCH,
            duplicates=written_before_failure - replayed_batches * BATCH,
            replayed_batches=replayed_batches,
        )
        self.assert_complete(api, db, campaign_id)

    def test_killed_client_rerun_completes(
        self, run_leads, leads_env, api, db, injector, email_campaign, big_csv
    ):
        campaign_id = email_campaign["id"]
        # The 13th batch is held in the server until the client has been killed; then it
        # goes through: a write whose client is gone.
        fault = injector.arm(Fault("hold", first=FAILING_BATCH, times=1))
        process = subprocess.Popen(
            [str(LEADS_BIN), *add_command(campaign_id, big_csv)],
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("LEADS_API_")},
                **leads_env,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert fault.held.wait(timeout=60)
            process.kill()
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
        assert process.returncode == -9
        fault.release.set()
        assert fault.done.wait(timeout=60)
        assert_holds_first(db, campaign_id, FAILING_BATCH * BATCH)

        injector.reset()
        second = run_leads(*add_command(campaign_id, big_csv))

        assert (second.exit_code, second.stderr) == (0, "")
        assert second.json == summary(rows=ROWS, imported=ROWS, replayed_batches=FAILING_BATCH)
        self.assert_complete(api, db, campaign_id)

    @staticmethod
    def assert_complete(api, db, campaign_id: str) -> None:
        state = roster(db, campaign_id)
        assert (state["leads"], state["identities"], state["with_segment"]) == (ROWS, ROWS, ROWS)
        assert state["sorted"] == [email(number) for number in range(ROWS)]
        assert state["counts"] == {"pending": ROWS}
        assert state["stats"] == {
            "total": ROWS,
            **{status: ROWS * (status == "pending") for status in LEAD_STATUSES},
            "contacted": 0,
            "last_synced_at": state["stats"]["last_synced_at"],
        }
        shown = api.get(f"/api/campaigns/{campaign_id}").json
        assert shown["campaign"]["stats"] == state["stats"]
        assert shown["prospects_by_status"] == {
            status: ROWS * (status == "pending") for status in LEAD_STATUSES
        }
