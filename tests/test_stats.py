"""Campaign stats: a new campaign counts nothing, the key order is the contract's, and
after any sequence of roster writes and sending-engine status changes the stats, the
maintained per-status counts and a full recount of the roster agree exactly."""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from leads_contract.values import IDENTITY_FIELD, LEAD_STATUSES
from tests.contract import (
    LEAD_KEYS,
    STATS_KEYS,
    as_listed,
    assert_stats_match_roster,
    identity,
    leads_url,
    maintained_counts,
    pending_stats,
    recalculate,
    recount,
    spelling,
    stats_of,
    stored_lead,
    stored_stats,
)

ZERO_COUNTS = {status: 0 for status in LEAD_STATUSES}


class TestNewCampaign:
    @pytest.mark.parametrize("campaign_type", ["email", "linkedin"])
    def test_counts_start_at_zero(self, api, db, campaign_type):
        campaign = api.create_campaign("Fresh", campaign_type)

        stats = campaign["stats"]
        assert stats == stats_of(ZERO_COUNTS, stats["last_synced_at"])
        assert stored_stats(db, campaign["id"]) == stats
        assert datetime.fromisoformat(stats["last_synced_at"]).tzinfo is not None
        assert maintained_counts(db, campaign["id"]) == ZERO_COUNTS
        shown = api.get(f"/api/campaigns/{campaign['id']}")
        assert shown.status_code == 200
        assert shown.json == {"campaign": campaign, "prospects_by_status": ZERO_COUNTS}
        recalculated, now = recalculate(db, campaign["id"])
        assert recalculated == stats_of(ZERO_COUNTS, recalculated["last_synced_at"])
        assert datetime.fromisoformat(recalculated["last_synced_at"]) == now


def stats_from(api, campaign: dict, where: str) -> dict:
    """A campaign's stats as one of the endpoints that carry them answers."""
    path = leads_url(campaign["id"])
    row = {IDENTITY_FIELD[campaign["type"]]: identity(campaign["type"], "lead1")}
    if where == "create":
        return campaign["stats"]
    if where == "show":
        response = api.get(f"/api/campaigns/{campaign['id']}")
        assert list(response.json["prospects_by_status"]) == list(LEAD_STATUSES)
        return response.json["campaign"]["stats"]
    if where == "list":
        return api.get("/api/campaigns").json["campaigns"][0]["stats"]
    if where == "add":
        return api.post(path, json={"prospects": [row]}).json["stats"]
    if where == "dry run":
        return api.post(f"{path}?dry_run=true", json={"prospects": [row]}).json["stats"]
    if where == "delete":
        added = api.post(path, json={"prospects": [row]}).json["results"][0]["id"]
        return api.delete(path, json={"prospect_ids": [added]}).json["stats"]
    if where == "delete all":
        return api.delete(path, json={"all": True}).json["stats"]
    assert where == "launch"
    return api.post(f"/api/campaigns/{campaign['id']}/launch").json["campaign"]["stats"]


class TestStatsKeyOrder:
    @pytest.mark.parametrize(
        "where", ["create", "show", "list", "add", "dry run", "delete", "delete all", "launch"]
    )
    def test_total_then_statuses_then_contacted_then_last_synced_at(self, api, where):
        campaign = api.create_campaign("Ordered", "email")

        stats = stats_from(api, campaign, where)

        assert list(stats) == STATS_KEYS

    def test_the_statuses_follow_the_database_enum(self, db):
        # The contract orders the counts as the list of statuses, which is the enum's order.
        with db.cursor() as cursor:
            cursor.execute("SELECT enum_range(NULL::lead_status)::text[]")
            assert tuple(cursor.fetchone()[0]) == LEAD_STATUSES

    def test_the_contract_documents_this_order(self):
        # Every stats object that docs/API.md shows lists its keys in this order.
        api_doc = (Path(__file__).parent.parent / "docs" / "API.md").read_text(encoding="utf-8")
        shown = []
        for block in re.findall(r"```json\n(.*?)```", api_doc, re.DOTALL):
            try:
                shown += stats_objects(json.loads(block))
            except json.JSONDecodeError:
                continue  # an excerpt, not a whole document
        assert shown
        assert [list(stats) for stats in shown] == [STATS_KEYS] * len(shown)


def stats_objects(document) -> list[dict]:
    """The stats objects anywhere in a JSON document."""
    if isinstance(document, list):
        return [found for item in document for found in stats_objects(item)]
    if not isinstance(document, dict):
        return []
    own = [document] if "total" in document and "contacted" in document else []
    return own + [found for value in document.values() for found in stats_objects(value)]


class RosterModel:
    """What the roster of one campaign should hold: identity -> (lead id, status)."""

    def __init__(self) -> None:
        self.leads: dict[str, tuple[str, str]] = {}

    def counts(self) -> dict[str, int]:
        counts = dict(ZERO_COUNTS)
        for _, status in self.leads.values():
            counts[status] += 1
        return counts

    def ids(self) -> list[str]:
        return [lead_id for lead_id, _ in self.leads.values()]

    def identity_of(self, lead_id: str) -> str:
        return next(key for key, (known, _) in self.leads.items() if known == lead_id)


def roster_rows(db, campaign_id: str) -> dict[str, tuple[str, str]]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT identity, id::text, status::text FROM leads WHERE campaign_id = %s",
            (campaign_id,),
        )
        return {key: (lead_id, status) for key, lead_id, status in cursor.fetchall()}


class StatsScenario:
    """One campaign driven through a random sequence of roster writes (the API) and status
    changes (SQL, as the sending engine makes them), checked after every step."""

    PEOPLE = 40

    def __init__(self, api, db, campaign: dict, bystander: dict, rng: random.Random) -> None:
        self.api = api
        self.db = db
        self.campaign = campaign
        self.bystander = bystander
        self.rng = rng
        self.type = campaign["type"]
        self.field = IDENTITY_FIELD[self.type]
        self.model = RosterModel()
        self.most_statuses_seen = 0
        self.bystander_before = (
            roster_rows(db, bystander["id"]),
            stored_stats(db, bystander["id"]),
        )

    # Roster writes, through the API (each recomputes the stats in its own transaction).

    def add(self) -> None:
        numbers = [self.rng.randrange(self.PEOPLE) for _ in range(self.rng.randint(1, 25))]
        rows = [{self.field: spelling(self.rng, self.type, f"lead{n}")} for n in numbers]

        response = self.api.post(leads_url(self.campaign["id"]), json={"prospects": rows})

        assert response.status_code == 200, response.json
        body = response.json
        results = []
        new_ids: dict[str, str] = {}
        seen: set[str] = set()
        for index, n in enumerate(numbers):
            key = identity(self.type, f"lead{n}")
            # A repeat within the batch says "batch" even when the roster holds it too.
            if key in seen:
                first = next(result for result in results if result["identity"] == key)
                outcome, lead_id, duplicate_of = "duplicate", first["id"], "batch"
            elif key in self.model.leads:
                outcome, lead_id, duplicate_of = "duplicate", self.model.leads[key][0], "campaign"
            else:
                # A new lead's id is the one the response gives; the roster check below
                # proves it is the lead stored for this identity.
                outcome, lead_id, duplicate_of = "imported", body["results"][index]["id"], None
                new_ids[key] = lead_id
            seen.add(key)
            results.append(
                {
                    "index": index,
                    "outcome": outcome,
                    "id": lead_id,
                    "identity": key,
                    "duplicate_of": duplicate_of,
                }
            )
        self.model.leads.update({key: (lead_id, "pending") for key, lead_id in new_ids.items()})
        assert body == {
            "imported": len(new_ids),
            "duplicates": len(rows) - len(new_ids),
            "suppressed": 0,
            "results": results,
            "stats": stats_of(self.model.counts(), body["stats"]["last_synced_at"]),
        }

    def delete_ids(self) -> None:
        chosen = self.rng.sample(
            self.model.ids(), min(len(self.model.ids()), self.rng.randint(0, 8))
        )
        # Ids that are not this campaign's are skipped: unknown ones and the bystander's.
        strangers = [str(uuid.uuid4()), self.rng.choice(list(self.bystander_before[0].values()))[0]]
        requested = chosen + self.rng.sample(strangers, self.rng.randint(0 if chosen else 1, 2))
        self.rng.shuffle(requested)

        response = self.api.delete(leads_url(self.campaign["id"]), json={"prospect_ids": requested})

        assert response.status_code == 200, response.json
        for lead_id in chosen:
            del self.model.leads[self.model.identity_of(lead_id)]
        assert response.json == {
            "deleted": len(chosen),
            "stats": stats_of(self.model.counts(), response.json["stats"]["last_synced_at"]),
        }

    def delete_all(self) -> None:
        response = self.api.delete(leads_url(self.campaign["id"]), json={"all": True})

        assert response.status_code == 200, response.json
        deleted = len(self.model.leads)
        self.model.leads.clear()
        assert response.json == {
            "deleted": deleted,
            "stats": stats_of(ZERO_COUNTS, response.json["stats"]["last_synced_at"]),
        }

    def edit(self) -> None:
        """A PATCH of a profile field: an UPDATE of leads that moves no count."""
        if not self.model.leads:
            return
        lead_id = self.rng.choice(self.model.ids())
        company = f"Company {self.rng.randrange(10**6)}"

        response = self.api.patch(
            leads_url(self.campaign["id"]),
            json={"prospect_id": lead_id, "updates": {"company": company}},
        )

        assert response.status_code == 200, response.json
        assert response.json == {"prospect": as_listed(stored_lead(self.db, lead_id, LEAD_KEYS))}
        assert response.json["prospect"]["company"] == company

    # Status changes, in SQL, as the sending engine makes them.

    def set_statuses(self) -> None:
        """Give a random subset of leads random statuses in one statement."""
        ids = self.model.ids()
        chosen = self.rng.sample(ids, self.rng.randint(0, len(ids)))
        statuses = [self.rng.choice(LEAD_STATUSES) for _ in chosen]
        with self.db.cursor() as cursor:
            cursor.execute(
                "UPDATE leads SET status = moves.status, updated_at = now()"
                " FROM unnest(%s::uuid[], %s::lead_status[]) AS moves (id, status)"
                " WHERE leads.id = moves.id AND leads.campaign_id = %s",
                (chosen, statuses, self.campaign["id"]),
            )
            assert cursor.rowcount == len(chosen)
        for lead_id, status in zip(chosen, statuses, strict=True):
            self.model.leads[self.model.identity_of(lead_id)] = (lead_id, status)
        self.engine_recalculates()

    def move_status(self) -> None:
        """Move every lead of one status to another (e.g. time out everything sent)."""
        source, target = self.rng.choice(LEAD_STATUSES), self.rng.choice(LEAD_STATUSES)
        with self.db.cursor() as cursor:
            cursor.execute(
                "UPDATE leads SET status = %s, updated_at = now()"
                " WHERE campaign_id = %s AND status = %s",
                (target, self.campaign["id"], source),
            )
        for key, (lead_id, status) in list(self.model.leads.items()):
            if status == source:
                self.model.leads[key] = (lead_id, target)
        self.engine_recalculates()

    def engine_recalculates(self) -> None:
        # The triggers kept the counts exact at once; the stats catch up when the engine
        # recalculates them, as it does after each status change.
        assert maintained_counts(self.db, self.campaign["id"]) == self.model.counts()
        recalculate(self.db, self.campaign["id"])

    def launch(self) -> None:
        before = stored_stats(self.db, self.campaign["id"])
        response = self.api.post(f"/api/campaigns/{self.campaign['id']}/launch")
        assert response.status_code == 200, response.json
        assert response.json["campaign"]["stats"] == before
        self.campaign = response.json["campaign"]

    # The invariant.

    def check(self) -> None:
        campaign_id = self.campaign["id"]
        counts = recount(self.db, campaign_id)
        self.most_statuses_seen = max(self.most_statuses_seen, sum(map(bool, counts.values())))
        assert roster_rows(self.db, campaign_id) == self.model.leads
        assert counts == self.model.counts()
        assert maintained_counts(self.db, campaign_id) == counts
        stored = stored_stats(self.db, campaign_id)
        assert stored == stats_of(counts, stored["last_synced_at"])

        recalculated, now = recalculate(self.db, campaign_id)
        assert recalculated == stats_of(counts, recalculated["last_synced_at"])
        assert recalculated["contacted"] == sum(
            1 for _, status in self.model.leads.values() if status not in ("pending", "cancelled")
        )
        assert datetime.fromisoformat(recalculated["last_synced_at"]) == now
        assert stored_stats(self.db, campaign_id) == recalculated

        shown = self.api.get(f"/api/campaigns/{campaign_id}")
        assert shown.status_code == 200
        assert shown.json == {
            "campaign": {**self.campaign, "stats": recalculated},
            "prospects_by_status": counts,
        }
        status = self.rng.choice(LEAD_STATUSES)
        listed = self.api.get(leads_url(self.campaign["id"], status=status, limit=1))
        assert listed.json["total"] == counts[status]

        # The other campaign of the workspace is untouched.
        assert (
            roster_rows(self.db, self.bystander["id"]),
            stored_stats(self.db, self.bystander["id"]),
        ) == self.bystander_before
        assert_stats_match_roster(self.db, self.bystander["id"])


DRAFT_STEPS = {
    "add": 6,
    "delete_ids": 3,
    "delete_all": 1,
    "edit": 1,
    "set_statuses": 4,
    "move_status": 2,
}
ENGINE_STEPS = {"set_statuses": 3, "move_status": 1}


class TestStatsStayExact:
    @pytest.mark.parametrize("campaign_type", ["email", "linkedin"])
    @pytest.mark.parametrize("seed", range(4))
    def test_random_writes_and_status_changes(self, api, db, campaign_type, seed):
        rng = random.Random(seed)
        campaign = api.create_campaign("Under test", campaign_type)
        bystander = api.create_campaign("Bystander", campaign_type)
        field = IDENTITY_FIELD[campaign_type]
        seeded = api.post(
            leads_url(bystander["id"]),
            json={"prospects": [{field: identity(campaign_type, f"lead{n}")} for n in range(10)]},
        )
        assert seeded.status_code == 200, seeded.json
        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE leads SET status = 'sent' WHERE campaign_id = %s AND identity = ANY(%s)",
                (bystander["id"], [identity(campaign_type, f"lead{n}") for n in range(4)]),
            )
        recalculate(db, bystander["id"])
        scenario = StatsScenario(api, db, campaign, bystander, rng)
        scenario.check()

        # In draft: roster writes and status changes interleaved, every kind at least once.
        steps = list(DRAFT_STEPS) + rng.choices(
            list(DRAFT_STEPS), weights=list(DRAFT_STEPS.values()), k=34
        )
        rng.shuffle(steps)
        for step in steps:
            getattr(scenario, step)()
            scenario.check()
        # Launched: the roster is frozen and only the engine moves statuses.
        scenario.launch()
        scenario.check()
        for step in rng.choices(list(ENGINE_STEPS), weights=list(ENGINE_STEPS.values()), k=10):
            getattr(scenario, step)()
            scenario.check()

        # The counts were really spread: at some point many statuses held leads at once.
        assert scenario.most_statuses_seen >= 4


class TestStatusMovesKeepCounts:
    """The statement-level UPDATE trigger on its own: moves out of a status, into one, both
    in one statement, and updates that move nothing."""

    @pytest.mark.parametrize(
        "moves",
        [
            pytest.param({"sent": [0, 1, 2]}, id="pending to sent"),
            pytest.param({"sent": [0, 1], "replied": [2], "cancelled": [3]}, id="fan out"),
            pytest.param({"pending": [0, 1, 2, 3, 4]}, id="to the same status"),
            pytest.param({}, id="no lead"),
        ],
    )
    def test_counts_follow_one_update(self, api, db, moves):
        campaign = api.create_campaign("Moves", "email")
        added = api.post(
            leads_url(campaign["id"]),
            json={"prospects": [{"email": identity("email", f"lead{n}")} for n in range(5)]},
        )
        assert added.status_code == 200, added.json
        ids = [result["id"] for result in added.json["results"]]
        chosen = [(ids[index], status) for status, indexes in moves.items() for index in indexes]

        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE leads SET status = moves.status"
                " FROM unnest(%s::uuid[], %s::lead_status[]) AS moves (id, status)"
                " WHERE leads.id = moves.id",
                ([lead_id for lead_id, _ in chosen], [status for _, status in chosen]),
            )
        expected = dict(ZERO_COUNTS) | {"pending": 5 - len(chosen)}
        for _, status in chosen:
            expected[status] += 1
        assert maintained_counts(db, campaign["id"]) == expected == recount(db, campaign["id"])
        recalculated, _ = recalculate(db, campaign["id"])
        assert recalculated == stats_of(expected, recalculated["last_synced_at"])

        # Then back again: moves out of the statuses just filled.
        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE leads SET status = 'pending' WHERE campaign_id = %s", (campaign["id"],)
            )
        assert maintained_counts(db, campaign["id"]) == recount(db, campaign["id"])
        recalculated, _ = recalculate(db, campaign["id"])
        assert recalculated == pending_stats(5, recalculated["last_synced_at"])
