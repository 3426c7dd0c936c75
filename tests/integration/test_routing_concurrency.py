"""Routing under real concurrency: many threads, one router each, against DynamoDB on a moto server whose tables come
from template.yaml. Whatever the interleaving, the final items must show: no conversation with two volunteers, no
volunteer over their cap, every load equal to what its volunteer holds, and every waiting conversation taken once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from unit.fakes import RecordingOutboundQueue, RecordingTimerQueue

from peerline.adapters.conversation_store import DynamoConversationStore
from peerline.adapters.dynamo import conversation_from, conversation_item, to_item
from peerline.adapters.volunteers import DynamoVolunteerRegistry, volunteer_from
from peerline.conversation import ConcurrentUpdateError
from peerline.lifecycle import ConversationChange
from peerline.models import (
    Consent,
    ConversationRecord,
    ConversationState,
    Role,
    TexterRecord,
    TimerKind,
    VolunteerRecord,
    VolunteerStatus,
)
from peerline.replies import ReplyBook
from peerline.risk import RiskLevel
from peerline.routing import (
    ConflictError,
    NotEligibleError,
    NotFoundError,
    Router,
    RoutingError,
    RoutingSettings,
)

THREADS = 8
HELD = (ConversationState.OFFERED, ConversationState.ACTIVE)
REPLIES = ReplyBook(emergency_resources="Call 911.", emergency_resources_es="Llama al 911.")


@pytest.fixture(scope="module", autouse=True)
def dynamodb_isolation() -> Iterator[None]:
    """Give moto DynamoDB's isolation: one request at a time.

    DynamoDB runs a transaction atomically and serialisably against other writes to its items. moto's threaded
    server runs requests in parallel with no lock: a conditional write checks, then writes, with a thread switch
    possible in between, and a cancelled transaction rolls back by restoring a snapshot of whole tables, undoing
    what other threads committed meanwhile. Serialising moto's DynamoDB requests makes what these tests see the
    router's behaviour, not moto's; the router's threads still interleave freely between requests.
    """
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DynamoHandler, "call_action", call_action)
        yield


@pytest.fixture(scope="module")
def dynamodb(moto_endpoint: str) -> Any:
    return boto3.session.Session(region_name="us-east-1").client(
        "dynamodb", endpoint_url=moto_endpoint, config=Config(max_pool_connections=THREADS * 4)
    )


@pytest.fixture(scope="module")
def tables(stack: Any) -> dict[str, str]:
    environment = stack.functions["ConversationEngineFunction"].environment
    return {
        "texters_table": environment["TEXTERS_TABLE"],
        "conversations_table": environment["CONVERSATIONS_TABLE"],
        "messages_table": environment["MESSAGES_TABLE"],
        "counters_table": environment["COUNTERS_TABLE"],
        "volunteers_table": environment["VOLUNTEERS_TABLE"],
    }


class ObservedRoutingRepository(DynamoConversationStore):
    """The DynamoDB repository, counting the commits that lost a race (to show the race really happened)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lost_races = 0
        self._count_lock = threading.Lock()

    def commit(self, change: ConversationChange) -> None:
        try:
            super().commit(change)
        except ConcurrentUpdateError:
            with self._count_lock:
                self.lost_races += 1
            raise


class Line:
    """The routing tables, seeded and inspected directly; routers built on them as the functions build theirs."""

    def __init__(self, tables: dict[str, str], dynamodb: Any) -> None:
        self.tables = tables
        self.dynamodb = dynamodb
        self.repository = ObservedRoutingRepository(**tables, dynamodb_client=dynamodb)
        self.registry = DynamoVolunteerRegistry(tables["volunteers_table"], dynamodb)
        self.outbound = RecordingOutboundQueue()
        self.timers = RecordingTimerQueue()
        self.now = datetime.now(UTC)

    def router(self) -> Router:
        """One router per worker, sharing the repository and the recording queues (as Lambdas share the tables)."""
        return Router(self.repository, self.outbound, self.timers, REPLIES, RoutingSettings(), clock=lambda: self.now)

    def wipe(self) -> None:
        for table, key in (("conversations_table", "conversation_id"), ("volunteers_table", "volunteer_id")):
            for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.tables[table]):
                for item in page["Items"]:
                    self.dynamodb.delete_item(TableName=self.tables[table], Key={key: item[key]})

    def volunteer(self, volunteer_id: str, **overrides: Any) -> None:
        values: dict[str, Any] = {
            "volunteer_id": volunteer_id,
            "username": volunteer_id,
            "display_name": volunteer_id.title(),
            "roles": [Role.VOLUNTEER],
            "certified_until": date.today() + timedelta(days=365),
            "status": VolunteerStatus.AVAILABLE,
        }
        self.registry.create(VolunteerRecord(**{**values, **overrides}))

    def waiting(self, conversation_id: str, *, waited_seconds: int = 0, **overrides: Any) -> None:
        since = self.now - timedelta(seconds=waited_seconds)
        texter = TexterRecord(
            texter_id=f"t-{conversation_id}",
            encrypted_number=f"kms:t-{conversation_id}",
            open_conversation_id=conversation_id,
            first_seen_at=since,
            last_seen_at=since,
            expires_at=int((since + timedelta(days=90)).timestamp()),
        )
        self.dynamodb.put_item(TableName=self.tables["texters_table"], Item=to_item(texter.model_dump(mode="json")))
        values: dict[str, Any] = {
            "conversation_id": conversation_id,
            "texter_id": texter.texter_id,
            "state": ConversationState.WAITING,
            "version": 3,
            "consent": Consent.GIVEN,
            "created_at": since,
            "waiting_since": since,
            "expires_at": int((since + timedelta(hours=24)).timestamp()),
        }
        conversation = ConversationRecord(**{**values, **overrides})
        self.dynamodb.put_item(TableName=self.tables["conversations_table"], Item=conversation_item(conversation))

    # -- the final items, read straight from the tables
    def conversations(self) -> dict[str, ConversationRecord]:
        items = self.dynamodb.scan(TableName=self.tables["conversations_table"], ConsistentRead=True)["Items"]
        return {conversation.conversation_id: conversation for conversation in map(conversation_from, items)}

    def volunteers(self) -> dict[str, VolunteerRecord]:
        items = self.dynamodb.scan(TableName=self.tables["volunteers_table"], ConsistentRead=True)["Items"]
        return {volunteer.volunteer_id: volunteer for volunteer in map(volunteer_from, items)}

    def assert_consistent(self) -> None:
        """No volunteer over their cap; every load is exactly what its volunteer holds; holders are consistent."""
        conversations = self.conversations()
        held = Counter(c.volunteer_id for c in conversations.values() if c.state in HELD)
        for conversation in conversations.values():
            if conversation.state in HELD:
                assert conversation.volunteer_id is not None, conversation
            if conversation.state is ConversationState.WAITING:
                assert conversation.volunteer_id is None, conversation
        for volunteer in self.volunteers().values():
            assert volunteer.load == held[volunteer.volunteer_id], (volunteer, held)
            assert volunteer.load <= volunteer.max_concurrent, volunteer


@pytest.fixture
def line(tables: dict[str, str], dynamodb: Any) -> Iterator[Line]:
    line = Line(tables, dynamodb)
    line.wipe()
    yield line
    line.wipe()


def _race(workers: list[Callable[[], Any]]) -> list[Any]:
    """Run every worker at once (released together by a barrier); their results, or the exceptions they raised."""
    barrier = threading.Barrier(len(workers))

    def run(worker: Callable[[], Any]) -> Any:
        barrier.wait(timeout=10)
        try:
            return worker()
        except RoutingError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        return list(pool.map(run, workers))


def test_volunteers_racing_take_next_never_share_a_conversation_nor_exceed_their_cap(line: Line) -> None:
    # given 16 texters waiting, and 4 volunteers (caps 1 to 4, away so nothing is pushed) each pulling from two
    # threads at once
    for index in range(16):
        line.waiting(f"c{index:02}", waited_seconds=index * 7, priority=list(RiskLevel)[index % 4])
    caps = {"ana": 1, "ben": 2, "cruz": 3, "dee": 4}
    for volunteer_id, cap in caps.items():
        line.volunteer(volunteer_id, max_concurrent=cap, status=VolunteerStatus.AWAY)

    def pull_until_full(volunteer_id: str) -> list[tuple[str, str]]:
        router, claimed = line.router(), []
        for _ in range(caps[volunteer_id] + 3):
            try:
                claimed.append((volunteer_id, router.take_next(volunteer_id).conversation_id))
            except NotEligibleError:
                break
            except NotFoundError:
                continue
        return claimed

    # when they all take next as fast as they can
    results = _race([lambda v=volunteer_id: pull_until_full(v) for volunteer_id in caps for _ in range(2)])

    # then each conversation was claimed at most once, by the volunteer the table says holds it
    claims = [claim for claimed in results for claim in claimed]
    claimed_ids = [conversation_id for _, conversation_id in claims]
    assert len(claimed_ids) == len(set(claimed_ids))
    conversations = line.conversations()
    for volunteer_id, conversation_id in claims:
        assert conversations[conversation_id].state is ConversationState.ACTIVE
        assert conversations[conversation_id].volunteer_id == volunteer_id
    # and nobody went over their cap, every load is what its volunteer holds, and everyone filled up
    line.assert_consistent()
    assert {v.volunteer_id: v.load for v in line.volunteers().values()} == caps
    assert len(claims) == sum(caps.values())
    # (and the workers really did collide)
    assert line.repository.lost_races > 0


def test_many_accepts_of_one_offer_let_exactly_one_win(line: Line) -> None:
    # given 6 conversations each offered to one of 3 volunteers
    for index in range(6):
        line.waiting(f"c{index}", waited_seconds=index)
    for volunteer_id in ("ana", "ben", "cruz"):
        line.volunteer(volunteer_id)
    offers = line.router().route_waiting()
    assert len(offers) == 6

    # when, for every offer, its volunteer accepts from 8 threads at once (a retried, double-clicked request)
    workers = [
        lambda c=conversation_id, v=volunteer_id: line.router().accept(v, c)
        for conversation_id, volunteer_id in offers
        for _ in range(THREADS)
    ]
    results = _race(workers)

    # then exactly one accept of each offer won, the others were conflicts, and the texter heard "joined" once
    winners = Counter(result.conversation_id for result in results if isinstance(result, ConversationRecord))
    assert winners == Counter({conversation_id: 1 for conversation_id, _ in offers})
    assert all(isinstance(result, ConversationRecord | ConflictError) for result in results)
    assert Counter(t.conversation_id for t in line.outbound.texts if t.purpose == "joined") == winners
    conversations = line.conversations()
    assert all(conversations[c].state is ConversationState.ACTIVE for c, _ in offers)
    line.assert_consistent()


def test_an_offer_accepted_by_its_volunteer_while_others_try_to_steal_it_stays_theirs(line: Line) -> None:
    # given one conversation offered to one of 4 volunteers
    line.waiting("c1")
    volunteer_ids = ["ana", "ben", "cruz", "dee"]
    for volunteer_id in volunteer_ids:
        line.volunteer(volunteer_id)
    [(_, holder)] = line.router().route_waiting()

    # when all 4 volunteers accept it at once, twice each
    results = _race([lambda v=v: line.router().accept(v, "c1") for v in volunteer_ids * 2])

    # then only the one it was offered to has it; to the others it doesn't exist
    outcomes = {
        (volunteer_id, type(result).__name__) for volunteer_id, result in zip(volunteer_ids * 2, results, strict=True)
    }
    assert (holder, "ConversationRecord") in outcomes
    assert {outcome for v, outcome in outcomes if v != holder} == {"NotFoundError"}
    assert line.conversations()["c1"].volunteer_id == holder
    line.assert_consistent()


def test_routing_from_many_threads_offers_each_conversation_once(line: Line) -> None:
    # given 12 texters waiting and 5 available volunteers with room for 10 conversations between them
    for index in range(12):
        line.waiting(f"c{index:02}", waited_seconds=index * 30)
    for volunteer_id in ("ana", "ben", "cruz", "dee", "eli"):
        line.volunteer(volunteer_id)

    # when 8 workers route the queue at the same moment (then one more, once they are done)
    results = _race([lambda: line.router().route_waiting() for _ in range(THREADS)])
    results.append(line.router().route_waiting())

    # then each conversation was offered at most once, with one expiry timer per offer actually made
    offers = [offer for result in results for offer in result]
    assert len({conversation_id for conversation_id, _ in offers}) == len(offers)
    timers = line.timers.of_kind(TimerKind.OFFER_EXPIRY)
    assert sorted((t.conversation_id, t.volunteer_id) for t in timers) == sorted(offers)
    # and every volunteer is full: 10 offers, 2 texters still waiting
    conversations = line.conversations()
    assert Counter(c.state for c in conversations.values()) == {
        ConversationState.OFFERED: 10,
        ConversationState.WAITING: 2,
    }
    assert {(c.conversation_id, c.volunteer_id) for c in conversations.values() if c.volunteer_id} == set(offers)
    line.assert_consistent()
    assert line.repository.lost_races > 0


def test_a_decline_racing_the_offer_expiry_lets_go_once(line: Line) -> None:
    # given 6 conversations offered to 3 volunteers, and 3 more volunteers available for what comes back
    for index in range(6):
        line.waiting(f"c{index}", waited_seconds=index)
    for volunteer_id in ("ana", "ben", "cruz"):
        line.volunteer(volunteer_id)
    first_offers = dict(line.router().route_waiting())
    for volunteer_id in ("dee", "eli", "fay"):
        line.volunteer(volunteer_id, last_assigned_at="2024-01-01T00:00:00+00:00")
    timers = {timer.conversation_id: timer for timer in line.timers.of_kind(TimerKind.OFFER_EXPIRY)}

    # when each offer is declined by its volunteer at the very moment its expiry timer fires
    workers: list[Callable[[], Any]] = []
    for conversation_id, volunteer_id in first_offers.items():
        workers.append(lambda c=conversation_id, v=volunteer_id: ("decline", c, line.router().decline(v, c)))
        workers.append(lambda c=conversation_id: ("expire", c, line.router().expire_offer(timers[c])))
    line.now += timedelta(seconds=45)
    results = _race(workers)

    # then, for each offer, exactly one of the two let it go
    won = Counter(
        result[1] for result in results if isinstance(result, tuple) and (result[0] == "decline" or result[2] is True)
    )
    assert won == Counter({conversation_id: 1 for conversation_id in first_offers})
    # and the first volunteer never holds it again, while loads stay exact and within caps
    conversations = line.conversations()
    for conversation_id, volunteer_id in first_offers.items():
        assert conversations[conversation_id].volunteer_id != volunteer_id
        assert volunteer_id in conversations[conversation_id].excluded_volunteers
    line.assert_consistent()
    assert line.repository.lost_races > 0


def test_pulls_pushes_declines_and_going_offline_at_once_keep_every_invariant(line: Line) -> None:
    # given 14 texters waiting and 5 volunteers
    for index in range(14):
        line.waiting(f"c{index:02}", waited_seconds=index * 11, priority=list(RiskLevel)[index % 4])
    for volunteer_id, cap in (("ana", 1), ("ben", 2), ("cruz", 2), ("dee", 3), ("eli", 2)):
        line.volunteer(volunteer_id, max_concurrent=cap)

    def push() -> None:
        line.router().route_waiting()

    def pull(volunteer_id: str) -> None:
        router = line.router()
        for _ in range(3):
            try:
                router.take_next(volunteer_id)
            except RoutingError:
                return

    declined: list[tuple[str, str]] = []

    def decline_all(volunteer_id: str) -> None:
        router = line.router()
        for conversation in line.repository.conversations_held_by(volunteer_id):
            try:
                router.decline(volunteer_id, conversation.conversation_id)
            except RoutingError:
                continue
            declined.append((volunteer_id, conversation.conversation_id))

    def accept_all(volunteer_id: str) -> None:
        router = line.router()
        for conversation in line.repository.conversations_held_by(volunteer_id):
            try:
                router.accept(volunteer_id, conversation.conversation_id)
            except RoutingError:
                continue

    def offline_and_back(volunteer_id: str) -> None:
        router = line.router()
        router.set_availability(volunteer_id, VolunteerStatus.OFFLINE)
        router.set_availability(volunteer_id, VolunteerStatus.AVAILABLE)

    # when they push, pull, accept, decline and come and go all at once, for a few rounds
    for _ in range(3):
        push()
        _race(
            [
                push,
                push,
                lambda: pull("ana"),
                lambda: pull("dee"),
                lambda: accept_all("ben"),
                lambda: decline_all("cruz"),
                lambda: offline_and_back("eli"),
                lambda: accept_all("dee"),
            ]
        )
        # then, after every round: nobody over their cap, every load exactly what its volunteer holds, and no
        # ordinary conversation back with a volunteer who declined it (the decline lapses only after
        # DeclineLapseSeconds; a high/imminent one may come straight back when nobody else can take it)
        line.assert_consistent()
        conversations = line.conversations()
        crisis = (RiskLevel.HIGH, RiskLevel.IMMINENT)
        assert all(conversations[c].volunteer_id != v or conversations[c].priority in crisis for v, c in declined)
    assert declined
