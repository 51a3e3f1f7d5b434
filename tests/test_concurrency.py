"""Concurrent roster writes on the real server: dedup and stats stay exact, and no write
commits after a launch (writes and status changes serialize on the campaign row); the
sending engine's concurrent status changes keep the per-status counts exact.

Each thread drives its own test client; the app's pool has 10 connections, so every
request really runs in a transaction of its own, side by side with the others.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import datetime

import psycopg2
import pytest

from leads_contract.values import IDENTITY_FIELD, LEAD_STATUSES
from tests.contract import (
    STATS_KEYS,
    THREAD_TIMEOUT,
    ApiClient,
    assert_stats_match_roster,
    bad_request,
    frozen_roster,
    ids_by_identity,
    leads_url,
    pending_stats,
    recount,
    run_threads,
    stats_of,
    stored_lead,
    stored_stats,
)

FROZEN_BODY = bad_request(frozen_roster("active"))


def identity(campaign_type: str, n: int) -> str:
    """The normalized identity of person `n`."""
    if campaign_type == "email":
        return f"person{n}@example.com"
    return f"https://www.linkedin.com/in/person-{n}"


def spellings(campaign_type: str, n: int) -> list[str]:
    """Ways to write person `n`'s identity that all normalize to `identity(type, n)`."""
    if campaign_type == "email":
        return [
            f"person{n}@example.com",
            f"  Person{n}@Example.COM",
            f"PERSON{n}@EXAMPLE.COM  ",
            f"\tperson{n}@Example.com",
        ]
    return [
        f"linkedin.com/in/person-{n}",
        f"https://uk.linkedin.com/in/Person-{n}/",
        f"http://www.linkedin.com/in/PERSON-{n}?trk=x#top",
        f"m.linkedin.com/in/person-{n}/en",
        f" https://www.linkedin.com/in/person-{n}/recent-activity/all/ ",
    ]


def expected_add_results(rows: list[dict], known: set[str], ids: dict[str, str]) -> list[dict]:
    """The results of adding `rows` to a roster holding the identities `known`; adds the
    rows' identities to `known`. Ids come from the database (an identity has one lead)."""
    results = []
    seen_in_batch: set[str] = set()
    for index, row in enumerate(rows):
        key = row["_identity"]
        if key in seen_in_batch:
            outcome, duplicate_of = "duplicate", "batch"
        elif key in known:
            outcome, duplicate_of = "duplicate", "campaign"
        else:
            outcome, duplicate_of = "imported", None
        seen_in_batch.add(key)
        results.append(
            {
                "index": index,
                "outcome": outcome,
                "id": ids[key],
                "identity": key,
                "duplicate_of": duplicate_of,
            }
        )
    known.update(seen_in_batch)
    return results


def wire(rows: list[dict]) -> list[dict]:
    """The rows as sent: without the test's own bookkeeping keys."""
    return [{key: value for key, value in row.items() if not key.startswith("_")} for row in rows]


class TestConcurrentAdds:
    THREADS = 6
    BATCHES_PER_THREAD = 3
    ROWS_PER_BATCH = 40
    PEOPLE = 120

    @pytest.mark.parametrize("campaign_type", ["email", "linkedin"])
    @pytest.mark.parametrize("seed", [1, 2])
    def test_overlapping_batches_store_each_identity_once(
        self, app, token, api, db, campaign_type, seed
    ):
        campaign = api.create_campaign(f"Race {campaign_type}", campaign_type)
        field = IDENTITY_FIELD[campaign_type]
        rng = random.Random(seed)
        batches = []
        for thread in range(self.THREADS):
            thread_batches = []
            for batch in range(self.BATCHES_PER_THREAD):
                rows = []
                for index in range(self.ROWS_PER_BATCH):
                    n = rng.randrange(self.PEOPLE)
                    rows.append(
                        {
                            field: rng.choice(spellings(campaign_type, n)),
                            # Tags the row, to tell which row's profile was stored.
                            "first_name": f"t{thread}-b{batch}-r{index}",
                            "_identity": identity(campaign_type, n),
                        }
                    )
                thread_batches.append(rows)
            batches.append(thread_batches)

        def worker(thread_batches):
            def post_all():
                client = ApiClient(app, token)
                sent = []
                for rows in thread_batches:
                    response = client.post(
                        leads_url(campaign["id"]), json={"prospects": wire(rows)}
                    )
                    sent.append((rows, response.status_code, response.json))
                return sent

            return post_all

        outcomes = [
            outcome for sent in run_threads([worker(b) for b in batches]) for outcome in sent
        ]

        assert [status for _, status, _ in outcomes] == [200] * len(outcomes)
        sent_identities = {row["_identity"] for rows, _, _ in outcomes for row in rows}
        ids = ids_by_identity(db, campaign["id"])
        assert set(ids) == sent_identities
        assert sum(body["imported"] for _, _, body in outcomes) == len(sent_identities)

        # Writes serialize on the campaign row, so each response's stats total is the roster
        # size right after it committed: ordering by it (an import before a no-op at the same
        # total) gives the commit order. Replaying the batches in that order must give every
        # response's whole body.
        known: set[str] = set()
        first_row_of: dict[str, dict] = {}
        for rows, _, body in sorted(
            outcomes, key=lambda outcome: (outcome[2]["stats"]["total"], -outcome[2]["imported"])
        ):
            new = [row for row in rows if row["_identity"] not in known]
            for row in new:
                first_row_of.setdefault(row["_identity"], row)
            results = expected_add_results(rows, known, ids)
            imported = sum(result["outcome"] == "imported" for result in results)
            assert body == {
                "imported": imported,
                "duplicates": len(rows) - imported,
                "suppressed": 0,
                "results": results,
                "stats": pending_stats(len(known), body["stats"]["last_synced_at"]),
            }

        # Each identity once; its profile is the first row that brought it (never modified).
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT identity, count(*), min(first_name) FROM leads"
                " WHERE campaign_id = %s GROUP BY identity",
                (campaign["id"],),
            )
            stored = {key: (count, first_name) for key, count, first_name in cursor.fetchall()}
        assert stored == {key: (1, row["first_name"]) for key, row in first_row_of.items()}
        assert recount(db, campaign["id"]) == {
            status: len(sent_identities) if status == "pending" else 0 for status in LEAD_STATUSES
        }
        assert_stats_match_roster(db, campaign["id"])


class TestAddsRacingLaunch:
    POSTERS = 4
    ROWS_PER_BATCH = 10
    MAX_BATCHES = 60  # per poster; the launch comes long before

    @pytest.mark.parametrize("round_", range(4))
    def test_no_add_commits_after_the_launch(self, app, token, api, db, round_):
        campaign_type = ("email", "linkedin")[round_ % 2]
        campaign = api.create_campaign(f"Launch race {round_}", campaign_type)
        field = IDENTITY_FIELD[campaign_type]
        first_success = threading.Event()
        launched_at: list[float] = []

        def poster(thread):
            def post_until_frozen():
                client = ApiClient(app, token)
                rng = random.Random(round_ * self.POSTERS + thread)
                sent = []
                for batch in range(self.MAX_BATCHES):
                    # Identities unique to this batch: a 200 imports every row.
                    numbers = [
                        (thread * self.MAX_BATCHES + batch) * self.ROWS_PER_BATCH + index
                        for index in range(self.ROWS_PER_BATCH)
                    ]
                    rows = [
                        {
                            field: rng.choice(spellings(campaign_type, n)),
                            "_identity": identity(campaign_type, n),
                        }
                        for n in numbers
                    ]
                    started = time.monotonic()
                    response = client.post(
                        leads_url(campaign["id"]), json={"prospects": wire(rows)}
                    )
                    sent.append((started, rows, response.status_code, response.json))
                    if response.status_code == 200:
                        first_success.set()
                    else:
                        break
                return ("posts", sent)

            return post_until_frozen

        def launcher():
            client = ApiClient(app, token)
            assert first_success.wait(timeout=THREAD_TIMEOUT)
            time.sleep(random.Random(round_).uniform(0, 0.05))
            response = client.post(f"/api/campaigns/{campaign['id']}/launch")
            launched_at.append(time.monotonic())
            return ("launch", response)

        outcomes = run_threads([poster(thread) for thread in range(self.POSTERS)] + [launcher])
        launch = next(result for kind, result in outcomes if kind == "launch")
        posts = [post for kind, sent in outcomes if kind == "posts" for post in sent]

        assert launch.status_code == 200
        accepted = [post for post in posts if post[2] == 200]
        refused = [post for post in posts if post[2] != 200]
        # Both sides of the race happened: writes before the launch and writes after it.
        assert accepted
        assert len(refused) == self.POSTERS  # every poster ran until it hit the frozen roster

        ids = ids_by_identity(db, campaign["id"])
        for _, rows, status, body in refused:
            assert (status, body) == (400, FROZEN_BODY)
            assert not {row["_identity"] for row in rows} & set(ids)  # wrote nothing
        for started, _, _, _ in accepted:
            # A request sent after the launch answered can only be refused.
            assert started < launched_at[0]

        # The leads that exist are exactly those of the 200 responses.
        accepted_identities = {row["_identity"] for _, rows, _, _ in accepted for row in rows}
        assert set(ids) == accepted_identities
        totals = sorted(body["stats"]["total"] for _, _, _, body in accepted)
        assert totals == [self.ROWS_PER_BATCH * (n + 1) for n in range(len(accepted))]
        for _, rows, _, body in accepted:
            assert body == {
                "imported": len(rows),
                "duplicates": 0,
                "suppressed": 0,
                "results": [
                    {
                        "index": index,
                        "outcome": "imported",
                        "id": ids[row["_identity"]],
                        "identity": row["_identity"],
                        "duplicate_of": None,
                    }
                    for index, row in enumerate(rows)
                ],
                "stats": pending_stats(body["stats"]["total"], body["stats"]["last_synced_at"]),
            }

        # The launch saw the final roster: a write committed after it would have moved the
        # stats past the ones the launch answered with. (Timestamps cannot tell: now() is
        # each transaction's start, and a write that began after the launch's transaction
        # may still take the campaign row first and commit before it.)
        launched = launch.json["campaign"]
        assert launched["status"] == "active"
        assert launched["stats"] == pending_stats(len(ids), launched["stats"]["last_synced_at"])
        assert stored_stats(db, campaign["id"]) == launched["stats"]
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT status, updated_at FROM campaigns WHERE id = %s", (campaign["id"],)
            )
            status, updated_at = cursor.fetchone()
        assert status == "active"
        assert datetime.fromisoformat(launched["updated_at"]) == updated_at
        assert_stats_match_roster(db, campaign["id"])


class TestConcurrentIdentityEdits:
    @pytest.mark.parametrize("campaign_type", ["email", "linkedin"])
    @pytest.mark.parametrize("round_", range(3))
    def test_two_leads_racing_to_one_identity(self, app, token, api, db, campaign_type, round_):
        campaign = api.create_campaign(f"Edit race {round_}", campaign_type)
        field = IDENTITY_FIELD[campaign_type]
        added = api.post(
            leads_url(campaign["id"]),
            json={
                "prospects": [
                    {field: identity(campaign_type, 1), "first_name": "Ada", "last_name": "L"},
                    {field: identity(campaign_type, 2), "first_name": "Bob", "last_name": "M"},
                ]
            },
        )
        assert added.status_code == 200, added.json
        lead_ids = [result["id"] for result in added.json["results"]]
        target = identity(campaign_type, 3)
        new_spellings = spellings(campaign_type, 3)[1:3]  # two different ways to write it
        before = {lead_id: stored_lead(db, lead_id) for lead_id in lead_ids}

        def patcher(lead_id, spelling):
            def patch():
                client = ApiClient(app, token)
                return client.patch(
                    leads_url(campaign["id"]),
                    json={"prospect_id": lead_id, "updates": {field: spelling}},
                )

            return patch

        responses = run_threads(
            [patcher(lead_id, s) for lead_id, s in zip(lead_ids, new_spellings, strict=True)]
        )

        assert sorted(response.status_code for response in responses) == [200, 409]
        winner_index = [response.status_code for response in responses].index(200)
        winner, loser = lead_ids[winner_index], lead_ids[1 - winner_index]
        won, lost = responses[winner_index], responses[1 - winner_index]

        winner_after = stored_lead(db, winner)
        assert winner_after == {
            **before[winner],
            "identity": target,
            field: target,
            "updated_at": winner_after["updated_at"],
        }
        assert winner_after["updated_at"] > before[winner]["updated_at"]
        assert stored_lead(db, loser) == before[loser]  # the refused edit changed nothing
        assert ids_by_identity(db, campaign["id"]) == {
            target: winner,
            before[loser]["identity"]: loser,
        }

        lead = won.json["prospect"]
        assert won.json == {
            "prospect": {
                "id": winner,
                "campaign_id": campaign["id"],
                "status": "pending",
                "email": winner_after["email"],
                "linkedin_url": winner_after["linkedin_url"],
                "first_name": winner_after["first_name"],
                "last_name": winner_after["last_name"],
                "name": f"{winner_after['first_name']} {winner_after['last_name']}",
                "company": None,
                "position": None,
                "headline": None,
                "custom_fields": {},
                "created_at": lead["created_at"],
                "updated_at": lead["updated_at"],
            }
        }
        assert datetime.fromisoformat(lead["created_at"]) == winner_after["created_at"]
        assert datetime.fromisoformat(lead["updated_at"]) == winner_after["updated_at"]
        assert lost.json == {
            "code": 409,
            "status": "Conflict",
            "message": f"Lead {winner} in this campaign already has {field} {target}.",
            "errors": {"json": {"updates": {field: [f"Already used by lead {winner}."]}}},
        }
        assert_stats_match_roster(db, campaign["id"])


class TestConcurrentDeletesAndAdds:
    SEEDED = 300
    PEOPLE = 400  # identities the adders draw from: the seeded ones and 100 more
    DELETERS = 3
    ADDERS = 3
    ROUNDS = 4
    BATCH = 25

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_stats_equal_a_recount(self, app, token, api, db, seed):
        campaign_type = "email"
        campaign = api.create_campaign("Churn", campaign_type)
        rng = random.Random(seed)
        seeded = api.post(
            leads_url(campaign["id"]),
            json={"prospects": [{"email": identity("email", n)} for n in range(self.SEEDED)]},
        )
        assert seeded.status_code == 200, seeded.json
        seeded_ids = [result["id"] for result in seeded.json["results"]]
        # Leads in several statuses, as the sending engine leaves them, so that deletes move
        # more than one count.
        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE leads SET status = (ARRAY['pending', 'sent', 'replied', 'cancelled']"
                "::lead_status[])[1 + (get_byte(uuid_send(id), 15) %% 4)]"
                " WHERE campaign_id = %s",
                (campaign["id"],),
            )
            cursor.execute(
                "SELECT recalculate_campaign_stats(workspace_id, id) FROM campaigns WHERE id = %s",
                (campaign["id"],),
            )
        assert [status for status, count in recount(db, campaign["id"]).items() if count] == [
            "pending",
            "sent",
            "replied",
            "cancelled",
        ]

        unknown_ids = [str(uuid.uuid4()) for _ in range(5)]
        delete_plans = [
            [rng.sample(seeded_ids, self.BATCH) + rng.sample(unknown_ids, 1) for _ in range(3)]
            for _ in range(self.DELETERS)
        ]
        add_plans = [
            [
                [
                    {"email": rng.choice(spellings("email", rng.randrange(self.PEOPLE)))}
                    for _ in range(self.BATCH)
                ]
                for _ in range(self.ROUNDS)
            ]
            for _ in range(self.ADDERS)
        ]

        def worker(kind: str, plan: list):
            """A thread's work: send each payload of its plan in turn, as one client."""
            method, key = {"delete": ("DELETE", "prospect_ids"), "add": ("POST", "prospects")}[kind]

            def send_planned():
                client = ApiClient(app, token)
                path = leads_url(campaign["id"])
                return [
                    (kind, payload, client.request(method, path, json={key: payload}))
                    for payload in plan
                ]

            return send_planned

        calls = [
            call
            for calls in run_threads(
                [worker("delete", plan) for plan in delete_plans]
                + [worker("add", plan) for plan in add_plans]
            )
            for call in calls
        ]

        assert [response.status_code for _, _, response in calls] == [200] * len(calls)
        requested = {lead_id for kind, ids, _ in calls if kind == "delete" for lead_id in ids}
        imported_ids = {
            result["id"]
            for kind, _, response in calls
            if kind == "add"
            for result in response.json["results"]
            if result["outcome"] == "imported"
        }
        ever = set(seeded_ids) | imported_ids
        deleted = sum(response.json["deleted"] for kind, _, response in calls if kind == "delete")
        # Deletes only request seeded ids (and unknown ones): each existing one goes once.
        assert deleted == len(requested & ever)
        with db.cursor() as cursor:
            cursor.execute("SELECT id::text FROM leads WHERE campaign_id = %s", (campaign["id"],))
            remaining = {row[0] for row in cursor.fetchall()}
        assert remaining == ever - requested
        # Each response is consistent in itself (the recount above proves the end state).
        for kind, sent, response in calls:
            body = response.json
            if kind == "add":
                keys = [row["email"].strip().lower() for row in sent]
                first_result = {}
                for index, result in enumerate(body["results"]):
                    first_result.setdefault(result["identity"], result)
                    assert result["index"] == index
                    assert result["identity"] == keys[index]
                    if first_result[result["identity"]] is not result:
                        assert (result["outcome"], result["duplicate_of"]) == ("duplicate", "batch")
                        assert result["id"] == first_result[result["identity"]]["id"]
                imported = [r for r in body["results"] if r["outcome"] == "imported"]
                assert body["imported"] == len(imported)
                assert body["imported"] + body["duplicates"] == len(sent)
            else:
                assert 0 <= body["deleted"] <= len(sent) - 1  # one id of each is unknown
            stats = body["stats"]
            assert list(stats) == STATS_KEYS
            assert stats == stats_of(
                {status: stats[status] for status in LEAD_STATUSES}, stats["last_synced_at"]
            )
        assert_stats_match_roster(db, campaign["id"])


class TestConcurrentStatusChanges:
    """The sending engine moving statuses of one campaign from several connections at
    once, in opposite directions: the count triggers neither deadlock nor drift."""

    THREADS = 4
    LEADS_PER_THREAD = 40
    TRANSACTIONS = 8

    @pytest.mark.parametrize("seed", [1, 2])
    def test_opposite_moves_keep_counts_exact(self, api, db, database_url, seed):
        campaign = api.create_campaign("Engine", "email")
        added = api.post(
            leads_url(campaign["id"]),
            json={
                "prospects": [
                    {"email": identity("email", n)}
                    for n in range(self.THREADS * self.LEADS_PER_THREAD)
                ]
            },
        )
        assert added.status_code == 200, added.json
        ids = [result["id"] for result in added.json["results"]]
        launched = api.post(f"/api/campaigns/{campaign['id']}/launch")
        assert launched.status_code == 200, launched.json

        def engine(thread):
            # Each engine connection owns a slice of the leads, so only the counts are shared.
            mine = ids[thread * self.LEADS_PER_THREAD : (thread + 1) * self.LEADS_PER_THREAD]

            def move_statuses():
                rng = random.Random(seed * self.THREADS + thread)
                statuses = dict.fromkeys(mine, "pending")
                connection = psycopg2.connect(database_url)
                try:
                    for _ in range(self.TRANSACTIONS):
                        chosen = rng.sample(mine, rng.randint(1, len(mine)))
                        targets = [rng.choice(LEAD_STATUSES) for _ in chosen]
                        with connection, connection.cursor() as cursor:
                            cursor.execute(
                                "UPDATE leads SET status = moves.status, updated_at = now()"
                                " FROM unnest(%s::uuid[], %s::lead_status[])"
                                " AS moves (id, status) WHERE leads.id = moves.id",
                                (chosen, targets),
                            )
                            cursor.execute(
                                "SELECT recalculate_campaign_stats(workspace_id, id)"
                                " FROM campaigns WHERE id = %s",
                                (campaign["id"],),
                            )
                        statuses.update(zip(chosen, targets, strict=True))
                finally:
                    connection.close()
                return statuses

            return move_statuses

        final = {}
        for statuses in run_threads([engine(thread) for thread in range(self.THREADS)]):
            final.update(statuses)

        expected = {status: 0 for status in LEAD_STATUSES}
        for status in final.values():
            expected[status] += 1
        assert recount(db, campaign["id"]) == expected
        assert_stats_match_roster(db, campaign["id"])
