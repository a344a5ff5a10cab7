"""Seeded synthetic organizations, from a handful of users to 100k, built in about a second."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.fakes.datadog.catalog import ADMIN_ROLE_ID, READ_ONLY_ROLE_ID, STANDARD_ROLE_ID
from tests.fakes.datadog.org import AccessToken, APIKey, AppKey, Layer, LogEvent, Org, Schedule

FIRST = (
    "Ada", "Alan", "Alice", "Barbara", "Bob", "Carol", "Dan", "Edsger", "Erin", "Frances", "Grace", "Heidi",
    "Ivan", "Judy", "Ken", "Linus", "Mallory", "Niklaus", "Olivia", "Peggy", "Radia", "Sybil", "Trent", "Victor",
)  # fmt: skip
LAST = (
    "Lovelace", "Turing", "Liskov", "Hopper", "Knuth", "Dijkstra", "Allen", "Ritchie", "Thompson", "Wirth",
    "Perlman", "Hamilton", "Kernighan", "Torvalds", "Goldberg", "Lamport", "Backus", "McCarthy", "Shaw",
)  # fmt: skip
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def generate_org(
    *,
    users: int = 100,
    seed: int = 0,
    teams: int | None = None,
    schedules: int | None = None,
    api_keys: int | None = None,
    custom_roles: int | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Org:
    """A believable org: mostly active humans, some pending and disabled ones, service accounts
    with application keys, managed and custom roles, teams with members and admins (and some
    empty ones), On-Call schedules whose layers rotate through team members, and API keys.

    Everything derives from `seed`, so the same arguments give the same org.
    """
    org = Org(seed=seed, clock=clock)
    rng = org.rng
    n_custom = custom_roles if custom_roles is not None else min(40, max(2, users // 500))
    custom = [org.add_role(f"Custom Role {i:03d}", created_at=EPOCH + timedelta(days=i)).id for i in range(n_custom)]

    human_ids: list[str] = []
    service_ids: list[str] = []
    for i in range(users):
        created = EPOCH + timedelta(seconds=rng.randrange(60 * 60 * 24 * 700))
        roll = rng.random()
        service = i > 0 and roll < 0.03
        first, last = FIRST[rng.randrange(len(FIRST))], LAST[rng.randrange(len(LAST))]
        if service:
            name, email, status = f"svc-{last.lower()}-{i}", f"svc-{i}@robots.example.com", "Active"
        else:
            name, email = f"{first} {last} {i}", f"{first.lower()}.{last.lower()}.{i}@example.com"
            status = "Active" if i == 0 or roll > 0.15 else ("Pending" if roll < 0.09 else "Disabled")
        pick = rng.random()
        roles = [ADMIN_ROLE_ID if i == 0 or pick < 0.05 else STANDARD_ROLE_ID if pick < 0.8 else READ_ONLY_ROLE_ID]
        if custom and rng.random() < 0.15:
            roles.append(custom[rng.randrange(len(custom))])
        user = org.add_user(
            email,
            name=name,
            status=status,
            service_account=service,
            role_ids=roles,
            id=org.new_id(),
            created_at=created,
            last_login_time=created + timedelta(days=3) if status == "Active" and not service else None,
        )
        (service_ids if service else human_ids).append(user.id)
    if human_ids:
        org.current_user_id = human_ids[0]

    active_humans = [u for u in human_ids if org.users[u].status == "Active"] or human_ids
    active_set = set(active_humans)
    n_teams = teams if teams is not None else max(3, min(500, users // 20))
    team_list = []
    for t in range(n_teams):
        team = org.add_team(
            f"Team {t:04d}",
            f"team-{t:04d}",
            id=org.new_id(),
            created_at=EPOCH + timedelta(days=t % 300),
            summary=None if t % 3 else f"Team number {t}",
        )
        team_list.append(team)
        # About one team in eight is empty (user_count 0): syncers can skip their membership walk.
        if t % 8 == 7 or not human_ids:
            continue
        size = min(len(human_ids), max(1, int(rng.expovariate(1 / 25))))
        for j, uid in enumerate(rng.sample(human_ids, size)):
            org.add_member(team, uid, role="admin" if j == 0 or rng.random() < 0.08 else None)

    n_schedules = schedules if schedules is not None else max(1, min(200, n_teams // 5))
    staffed = [t for t in team_list if t.members] or team_list
    for s in range(n_schedules):
        owner = staffed[s % len(staffed)] if staffed else None
        pool = [u for u in (owner.members if owner else {}) if u in active_set] or active_humans[:5]
        layers = []
        for layer_no in range(1 + s % 2):
            members = rng.sample(pool, min(len(pool), 2 + rng.randrange(4))) if pool else []
            layers.append(
                Layer(
                    id=org.new_id(),
                    name=f"Layer {layer_no + 1}",
                    effective_date=EPOCH,
                    rotation_start=EPOCH + timedelta(hours=layer_no * 12),
                    interval=timedelta(days=1 if layer_no == 0 else 7),
                    members=members,
                    interval_raw={"days": 1 if layer_no == 0 else 7},
                )
            )
        schedule = Schedule(
            id=org.new_id(),
            name=f"Schedule {s:03d}",
            time_zone="UTC",
            layers=layers,
            team_ids=[owner.id] if owner else [],
        )
        org.schedules[schedule.id] = schedule

    n_keys = api_keys if api_keys is not None else 3 + users // 1000
    admins = list(org.role_members.get(ADMIN_ROLE_ID, {})) or human_ids
    for k in range(n_keys):
        when = EPOCH + timedelta(days=k)
        key = APIKey(
            id=org.new_id(),
            name=f"api-key-{k:03d}",
            key=org.new_secret(32),
            created_by=admins[k % len(admins)] if admins else None,
            created_at=when,
            modified_at=when,
            date_last_used=when + timedelta(days=30) if k % 2 == 0 else None,
        )
        org.api_keys[key.id] = key

    for i, sa in enumerate(service_ids):
        for k in range(i % 4):
            app = AppKey(
                id=org.new_id(),
                name=f"{org.users[sa].name}-key-{k}",
                key=org.new_secret(40),
                owner_id=sa,
                created_at=EPOCH + timedelta(days=k),
                scopes=None if k % 2 == 0 else ["dashboards_read", "monitors_read"],
            )
            org.app_keys[app.id] = app
        if i % 5 == 0:
            token = AccessToken(
                id=org.new_id(),
                name=f"{org.users[sa].name}-token",
                key=org.new_secret(40),
                public_portion=f"ddsat_{org.new_secret(22)}",
                owner_id=sa,
                scopes=["dashboards_read"],
                created_at=EPOCH,
            )
            org.tokens[token.id] = token
    for i in range(25):
        org.logs.append(
            LogEvent(
                id=org.new_secret(24),
                timestamp=EPOCH + timedelta(minutes=i),
                service=f"service-{i % 3}",
                host=f"host-{i % 4}",
                message=f"synthetic log line {i}",
                status="info",
                tags=[f"env:test{i % 2}", f"service:service-{i % 3}"],
            )
        )
    return org
