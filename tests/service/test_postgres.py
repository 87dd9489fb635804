"""The PostgreSQL store against a real server: migrations, user state, activity, daily totals,
ordering under concurrent writers from separate pools (as separate processes would be), and
errors mapped onto the store's vocabulary."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
import psycopg.errors
import pytest

from service.migrations import MIGRATIONS, POSTGRES_MIGRATIONS
from service.postgres import CLOCK, USER_LOCKS, PostgresStore, redacted, translate
from service.store import StoreError, StoreFull, StoreUnavailable
from tests.support import free_port, wait_until


@pytest.fixture
def open_store(postgres_url: str) -> Iterator[Callable[..., PostgresStore]]:
    """Factory: a new store (its own pool) on the test's database; all closed at teardown."""
    opened: list[PostgresStore] = []

    def make(url: str = postgres_url, **options: float) -> PostgresStore:
        store = PostgresStore(url, **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., PostgresStore]) -> PostgresStore:
    fresh = open_store()
    fresh.migrate()
    return fresh


def sql(url: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement.encode())
        return cursor.fetchall() if cursor.description else []


def test_each_sqlite_migration_has_its_postgresql_form() -> None:
    assert len(POSTGRES_MIGRATIONS) == len(MIGRATIONS)


def test_migrate_builds_the_newest_schema_and_a_second_run_changes_nothing(
    open_store: Callable[..., PostgresStore], postgres_url: str
) -> None:
    store = open_store()
    assert store.migrate() == len(POSTGRES_MIGRATIONS)
    assert store.migrate() == len(POSTGRES_MIGRATIONS)
    assert sql(postgres_url, "SELECT version FROM schema_version") == [(len(MIGRATIONS),)]
    tables = sql(postgres_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert {t for (t,) in tables} >= {"user_states", "user_activity", "daily_requests"}


def test_migrations_run_only_the_steps_a_database_is_missing(
    open_store: Callable[..., PostgresStore], postgres_url: str
) -> None:
    sql(postgres_url, POSTGRES_MIGRATIONS[0])
    sql(postgres_url, "CREATE TABLE schema_version (version INTEGER NOT NULL)")
    sql(postgres_url, "INSERT INTO schema_version VALUES (1)")
    sql(postgres_url, "INSERT INTO user_states VALUES ('old', true, NULL, NULL, 't', 't')")
    store = open_store()
    assert store.migrate() == len(POSTGRES_MIGRATIONS)
    state = store.get_state("old")
    assert state is not None and state.is_muted is True
    assert store.daily_totals("2000-01-01") == {}  # the later steps ran


def test_an_old_release_refuses_a_database_from_a_newer_one_without_showing_a_password(
    open_store: Callable[..., PostgresStore], postgres_url: str
) -> None:
    open_store().migrate()
    sql(postgres_url, f"UPDATE schema_version SET version = {len(MIGRATIONS) + 1}")  # noqa: S608
    with_password = postgres_url.replace("onebox@", "onebox:s3cret@")  # trust ignores it
    with pytest.raises(StoreError, match="newer than this code") as raised:
        open_store(with_password).migrate()
    assert "s3cret" not in str(raised.value)


def test_workers_starting_at_once_migrate_once(
    open_store: Callable[..., PostgresStore], postgres_url: str
) -> None:
    stores = [open_store() for _ in range(4)]
    results: list[object] = []
    threads = [threading.Thread(target=lambda s=s: results.append(_try(s.migrate))) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [len(MIGRATIONS)] * 4
    assert sql(postgres_url, "SELECT count(*) FROM schema_version") == [(1,)]


def _try(call: Callable[[], object]) -> object:
    try:
        return call()
    except StoreError as exc:
        return exc


def test_a_write_creates_the_user_and_later_writes_change_only_their_fields(
    store: PostgresStore,
) -> None:
    created = store.update_state("ana", {"isMuted": True})
    assert (created.is_muted, created.device_id, created.device_label) == (True, None, None)
    changed = store.update_state("ana", {"deviceId": "d1", "deviceLabel": "Phone"})
    assert (changed.is_muted, changed.device_id, changed.device_label) == (True, "d1", "Phone")
    assert changed.updated_at >= created.updated_at
    assert store.get_state("ana") == changed
    assert store.get_state("nobody") is None


def test_a_given_time_is_stored_as_given(store: PostgresStore) -> None:
    state = store.update_state("bo", {"deviceLabel": "Laptop"}, now="2026-01-02T03:04:05.678Z")
    assert state.updated_at == "2026-01-02T03:04:05.678Z"
    assert store.get_state("bo") == state


def test_one_users_updated_at_follows_the_order_of_commits_across_processes(
    open_store: Callable[..., PostgresStore],
) -> None:
    """Writers in two pools (two processes, as far as the server knows) race on one user: the
    write that committed last is the stored one, and no write returned a later updatedAt."""
    stores = [open_store(), open_store()]
    stores[0].migrate()
    returned: list[tuple[str, str]] = []
    lock = threading.Lock()

    def write(store: PostgresStore, who: str) -> None:
        for n in range(40):
            state = store.update_state("shared", {"deviceId": f"{who}-{n}"})
            with lock:
                returned.append((state.updated_at, str(state.device_id)))

    threads = [threading.Thread(target=write, args=(stores[i % 2], f"w{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(returned) == 160
    final = stores[1].get_state("shared")
    assert final is not None
    assert final.updated_at == max(at for at, _ in returned)
    assert (final.updated_at, final.device_id) in returned


def test_a_write_waiting_for_another_on_the_same_user_is_stamped_after_that_one_commits(
    store: PostgresStore,
) -> None:
    """A writer holds the user's lock (as a concurrent update_state does) while ours waits:
    ours must read the clock only once it has the lock, not when it started."""
    store.update_state("ana", {"deviceId": "first"})
    with psycopg.connect(store.url, autocommit=True) as holder:
        with holder.transaction():
            holder.execute("SELECT pg_advisory_xact_lock(%s, hashtext('ana'))", (USER_LOCKS,))
            waiting = threading.Thread(
                target=lambda: store.update_state("ana", {"deviceId": "second"})
            )
            waiting.start()
            wait_until(
                lambda: bool(sql(store.url, "SELECT 1 FROM pg_locks WHERE NOT granted")),
                what="the second write to wait for the lock",
            )
            released = holder.execute(f"SELECT {CLOCK}").fetchone()
        waiting.join(timeout=30)
    final = store.get_state("ana")
    assert released is not None and final is not None and final.device_id == "second"
    assert final.updated_at >= released[0]


def test_activity_counts_users_in_the_window_and_keeps_the_peak(store: PostgresStore) -> None:
    assert store.active_users(since=0).current == 0
    seen = store.record_activity({"a": 100.0, "b": 110.0, "c": 120.0}, since=50.0)
    assert (seen.current, seen.peak) == (3, 3)
    later = store.record_activity({"a": 130.0}, since=115.0)  # b left the window
    assert (later.current, later.peak) == (2, 3)
    assert store.active_users(since=125.0).current == 1
    assert store.record_activity({"a": 90.0}, since=0).current == 2  # an older time is ignored
    assert store.active_users(since=125.0).current == 1


def test_daily_totals_from_two_workers_add_up(open_store: Callable[..., PostgresStore]) -> None:
    stores = [open_store(), open_store()]
    stores[0].migrate()

    def add(store: PostgresStore) -> None:
        for _ in range(50):
            store.add_daily_totals({"2026-03-01": (2, 1), "2026-03-02": (1, 0)})

    threads = [threading.Thread(target=add, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert stores[0].daily_totals("2026-03-02") == {"2026-03-02": (100, 0)}
    assert stores[1].daily_totals("2026-01-01") == {
        "2026-03-01": (200, 100),
        "2026-03-02": (100, 0),
    }


def test_ping_reports_a_read_write_server_and_its_version(store: PostgresStore) -> None:
    assert store.mode == "unknown"  # nothing asked yet
    store.ping()
    (version,) = sql(store.url, "SHOW server_version")[0]
    assert store.mode == f"read-write, server {version}"


def test_a_read_only_database_is_unavailable_for_writes_and_not_ready(
    open_store: Callable[..., PostgresStore], postgres_url: str
) -> None:
    open_store().migrate()
    name = postgres_url.rpartition("/")[2]
    sql(postgres_url, f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    store = open_store()  # new connections take the database's setting
    with pytest.raises(StoreUnavailable, match="read-only"):
        store.ping()
    assert store.mode.startswith("read-only")
    with pytest.raises(StoreUnavailable):
        store.update_state("ana", {"isMuted": True})
    assert store.get_state("ana") is None  # reads keep working


def test_reads_and_writes_survive_connections_the_server_cut(
    store: PostgresStore,
) -> None:
    store.update_state("ana", {"isMuted": True})
    name = store.url.rpartition("/")[2]
    cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
    with psycopg.connect(store.url.rpartition("/")[0] + "/postgres", autocommit=True) as admin:
        admin.execute(cut, (name,))  # as a server restart or a failover does
    store.ping()
    state = store.get_state("ana")
    assert state is not None and state.is_muted is True
    with psycopg.connect(store.url.rpartition("/")[0] + "/postgres", autocommit=True) as admin:
        admin.execute(cut, (name,))
    store.update_state("ana", {"isMuted": False})  # the cut connections fail at BEGIN
    state = store.get_state("ana")
    assert state is not None and state.is_muted is False


def test_an_unreachable_server_is_unavailable(open_store: Callable[..., PostgresStore]) -> None:
    store = open_store(f"postgresql://onebox@127.0.0.1:{free_port()}/onebox", timeout=0.5)
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.migrate()


def test_errors_map_onto_the_stores_vocabulary() -> None:
    assert type(translate(psycopg.errors.DiskFull("could not extend file"))) is StoreFull
    assert type(translate(psycopg.errors.AdminShutdown("terminating"))) is StoreUnavailable
    assert type(translate(psycopg.OperationalError("connection refused"))) is StoreUnavailable
    assert type(translate(psycopg.errors.UniqueViolation("duplicate"))) is StoreError


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://app:pa55@db.example:5432/onebox",
            "postgresql://app:***@db.example:5432/onebox",
        ),
        (
            "postgresql://app@db:5432/onebox?passfile=/run/pg",
            "postgresql://app@db:5432/onebox?passfile=/run/pg",
        ),
        (
            "postgresql://app@db/onebox?sslmode=require&password=pa55",
            "postgresql://app@db/onebox?sslmode=require&password=***",
        ),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redacted(url) == shown
