"""Soak: threads mix every verb on a few campaigns for a bounded time while another
launches, pauses, resumes and completes them. Afterwards every invariant holds: stats
equal a recount, no identity twice, nothing written after a launch, every 2xx write
visible and nothing else written.

Each writer owns its people (only it adds, edits or removes them), so it can predict
every answer about them; all writers also race to add the same shared people.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import psycopg2
import pytest

from leads_contract.values import IDENTITY_FIELD
from tests.contract import (
    ApiClient,
    assert_stats_match_roster,
    bad_request,
    frozen_roster,
    identity,
    spelling,
    stored_leads,
)

DURATION = 12.0  # seconds of traffic
WRITERS = 5
OWN_PEOPLE = 40  # per writer
SHARED_PEOPLE = 40
THREAD_TIMEOUT = 60
FROZEN_STATUSES = ("active", "paused", "completed")
# When the launcher moves each campaign, as a fraction of DURATION; campaign 2 is never
# launched, so that writes go on to the end.
SCHEDULE = {
    0: [(0.30, "launch"), (0.50, "pause"), (0.70, "resume"), (0.85, "complete")],
    1: [(0.60, "launch")],
    2: [],
}
TYPES = ["email", "linkedin", "email"]


FROZEN_BODIES = [bad_request(frozen_roster(status)) for status in FROZEN_STATUSES]


@dataclass
class Lead:
    id: str
    identity: str
    first_name: str | None
    company: str | None = None


@dataclass
class Writer:
    """One thread's own people and what it knows about them, campaign by campaign."""

    number: int
    rng: random.Random
    campaigns: list[dict]
    own: dict[str, dict[str, Lead]] = field(default_factory=dict)  # campaign -> identity -> lead
    shared_outcomes: list[tuple[str, str, str, str]] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    frozen_seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.own = {campaign["id"]: {} for campaign in self.campaigns}

    def person(self, n: int) -> str:
        return f"w{self.number}-p{n}"

    def run(self, client: ApiClient, stop: threading.Event) -> None:
        operations = [self.add] * 4 + [self.edit] * 2 + [self.remove] * 2 + [self.read]
        while not stop.is_set():
            campaign = self.rng.choice(self.campaigns)
            self.rng.choice(operations)(client, campaign)

    def record(self, label: str, response, campaign: dict) -> bool:
        """Count the answer; True for a 200, False for the frozen roster's 400."""
        self.statuses[(label, response.status_code)] += 1
        if response.status_code == 400 and response.json in FROZEN_BODIES:
            self.frozen_seen.add(campaign["id"])
            return False
        assert response.status_code == 200, (label, response.status_code, response.json)
        return True

    def add(self, client: ApiClient, campaign: dict) -> None:
        type_ = campaign["type"]
        field_name = IDENTITY_FIELD[type_]
        rows, expected = [], []
        seen_in_batch: dict[str, int] = {}
        for index in range(self.rng.randint(1, 12)):
            shared = self.rng.random() < 0.3
            who = (
                f"shared-p{self.rng.randrange(SHARED_PEOPLE)}"
                if shared
                else (self.person(self.rng.randrange(OWN_PEOPLE)))
            )
            key = identity(type_, who)
            tag = f"w{self.number}-{uuid.uuid4().hex[:8]}"
            rows.append({field_name: spelling(self.rng, type_, who), "first_name": tag})
            expected.append((index, key, shared, tag, seen_in_batch.get(key)))
            seen_in_batch.setdefault(key, index)
        response = client.post(f"/api/campaigns/{campaign['id']}/leads", json={"prospects": rows})
        if not self.record("add", response, campaign):
            return
        body = response.json
        assert body["imported"] + body["duplicates"] == len(rows)
        own = self.own[campaign["id"]]
        for (index, key, shared, tag, first_index), result in zip(
            expected, body["results"], strict=True
        ):
            assert (result["index"], result["identity"]) == (index, key)
            if first_index is not None:
                assert (result["outcome"], result["duplicate_of"]) == ("duplicate", "batch")
                assert result["id"] == body["results"][first_index]["id"]
            elif shared:
                self.shared_outcomes.append((campaign["id"], key, result["outcome"], result["id"]))
            elif key in own:
                assert (result["outcome"], result["duplicate_of"]) == ("duplicate", "campaign")
                assert result["id"] == own[key].id
            else:
                assert (result["outcome"], result["duplicate_of"]) == ("imported", None)
                own[key] = Lead(result["id"], key, tag)

    def edit(self, client: ApiClient, campaign: dict) -> None:
        own = self.own[campaign["id"]]
        if not own:
            return
        lead = self.rng.choice(list(own.values()))
        type_ = campaign["type"]
        field_name = IDENTITY_FIELD[type_]
        if self.rng.random() < 0.5:
            updates = {"company": f"c-{uuid.uuid4().hex[:8]}"}
            new_key = lead.identity
        else:
            who = self.person(self.rng.randrange(OWN_PEOPLE))
            new_key = identity(type_, who)
            updates = {field_name: spelling(self.rng, type_, who)}
        response = client.patch(
            f"/api/campaigns/{campaign['id']}/leads",
            json={"prospect_id": lead.id, "updates": updates},
        )
        if new_key != lead.identity and new_key in own:
            # Another of this writer's leads holds that identity: 409, or frozen.
            if response.status_code == 409:
                self.statuses[("edit", 409)] += 1
                assert response.json["message"] == (
                    f"Lead {own[new_key].id} in this campaign already has {field_name} {new_key}."
                )
            else:
                assert not self.record("edit", response, campaign), response.json
            return
        if not self.record("edit", response, campaign):
            return
        prospect = response.json["prospect"]
        assert prospect["id"] == lead.id
        assert prospect[field_name] == new_key
        del own[lead.identity]
        lead.identity = new_key
        lead.company = updates.get("company", lead.company)
        own[new_key] = lead
        assert (prospect["first_name"], prospect["company"]) == (lead.first_name, lead.company)

    def remove(self, client: ApiClient, campaign: dict) -> None:
        own = self.own[campaign["id"]]
        chosen = self.rng.sample(list(own.values()), min(len(own), self.rng.randint(1, 4)))
        ids = [lead.id for lead in chosen] + [str(uuid.uuid4())]  # one that is no lead
        response = client.delete(
            f"/api/campaigns/{campaign['id']}/leads", json={"prospect_ids": ids}
        )
        if not self.record("remove", response, campaign):
            return
        assert response.json["deleted"] == len(chosen)
        for lead in chosen:
            del own[lead.identity]

    def read(self, client: ApiClient, campaign: dict) -> None:
        if self.rng.random() < 0.5:
            response = client.get(f"/api/campaigns/{campaign['id']}/leads?limit=200")
            self.record("list", response, campaign)
            page = response.json
            assert len(page["prospects"]) == min(page["total"], 200)
        else:
            response = client.get(f"/api/campaigns/{campaign['id']}")
            self.record("show", response, campaign)
            # The stats and the counts come from one snapshot: they agree.
            stats = response.json["campaign"]["stats"]
            by_status = response.json["prospects_by_status"]
            assert stats["total"] == sum(by_status.values())
            assert {status: stats[status] for status in by_status} == by_status


# What the soak compares of each stored lead, in this order.
ROSTER_COLUMNS = ("identity", "first_name", "company", "created_at", "updated_at")


def roster(db, campaign_id: str) -> dict[str, tuple]:
    """The campaign's leads as stored, by id: their ROSTER_COLUMNS."""
    leads = stored_leads(db, campaign_id, ["id", *ROSTER_COLUMNS])
    return {lead["id"]: tuple(lead[column] for column in ROSTER_COLUMNS) for lead in leads}


class TestSoak:
    @pytest.mark.timeout(180)
    def test_mixed_traffic_keeps_every_invariant(self, app, token, api, db, database_url):
        campaigns = [api.create_campaign(f"Soak {n}", type_) for n, type_ in enumerate(TYPES)]
        writers = [Writer(number, random.Random(number), campaigns) for number in range(WRITERS)]
        stop = threading.Event()
        errors: list[BaseException] = []
        launched: dict[str, dict] = {}

        def guarded(target, *args):
            def run():
                try:
                    target(*args)
                except BaseException as error:  # reported by the main thread
                    errors.append(error)
                    stop.set()

            return threading.Thread(target=run)

        def launcher(client: ApiClient) -> None:
            # Its own connection: the roster as it stands right after each launch.
            connection = psycopg2.connect(database_url)
            connection.autocommit = True
            steps = sorted(
                (at, number, transition)
                for number, moves in SCHEDULE.items()
                for at, transition in moves
            )
            start = time.monotonic()
            try:
                for at, number, transition in steps:
                    stop.wait(max(0.0, start + at * DURATION - time.monotonic()))
                    if stop.is_set():
                        return
                    campaign = campaigns[number]
                    response = client.post(f"/api/campaigns/{campaign['id']}/{transition}")
                    assert response.status_code == 200, response.json
                    if transition == "launch":
                        launched[campaign["id"]] = roster(connection, campaign["id"])
            finally:
                connection.close()

        threads = [guarded(writer.run, ApiClient(app, token), stop) for writer in writers] + [
            guarded(launcher, ApiClient(app, token))
        ]
        for thread in threads:
            thread.start()
        stop.wait(DURATION)
        stop.set()
        for thread in threads:
            thread.join(THREAD_TIMEOUT)
        assert not any(thread.is_alive() for thread in threads)
        if errors:
            raise errors[0]

        statuses = sum((writer.statuses for writer in writers), Counter())
        # The soak did write, and did run into frozen rosters.
        assert statuses[("add", 200)] > 20
        assert statuses[("edit", 200)] > 5
        assert statuses[("remove", 200)] > 5
        assert statuses[("add", 400)] > 0
        assert set(launched) == {campaigns[0]["id"], campaigns[1]["id"]}

        for campaign in campaigns:
            campaign_id = campaign["id"]
            final = roster(db, campaign_id)

            # Stats equal a recount; no identity twice.
            assert_stats_match_roster(db, campaign_id)
            identities = Counter(row[0] for row in final.values())
            assert [key for key, count in identities.items() if count > 1] == []

            # Every 2xx write is visible, and nothing else is there: each writer's own
            # people exactly as it last saw them...
            expected_own = {
                lead.id: (lead.identity, lead.first_name, lead.company)
                for writer in writers
                for lead in writer.own[campaign_id].values()
            }
            own_rows = {
                lead_id: row[:3] for lead_id, row in final.items() if "shared-p" not in row[0]
            }
            assert own_rows == expected_own
            # ...and each shared person imported once, every duplicate pointing at it.
            outcomes = [
                (key, outcome, lead_id)
                for writer in writers
                for outcome_campaign, key, outcome, lead_id in writer.shared_outcomes
                if outcome_campaign == campaign_id
            ]
            imported = {key: lead_id for key, outcome, lead_id in outcomes if outcome == "imported"}
            assert len(imported) == [outcome for _, outcome, _ in outcomes].count("imported")
            assert all(lead_id == imported[key] for key, _, lead_id in outcomes)
            shared_rows = {
                row[0]: lead_id for lead_id, row in final.items() if "shared-p" in row[0]
            }
            assert shared_rows == imported

            # Nothing written after a launch: the roster (timestamps included) is the one
            # read right after the launch answered.
            if campaign_id in launched:
                assert final == launched[campaign_id]
                assert any(campaign_id in writer.frozen_seen for writer in writers)
            else:
                assert not any(campaign_id in writer.frozen_seen for writer in writers)
