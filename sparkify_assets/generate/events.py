"""A day of app events: sessions planned, rendered as compact JSON lines and placed in time.

The log's quirks: logged-out events (userId "", no names), users moving between free and paid
(a Submit Upgrade or Submit Downgrade, then the new level) and different users at the same
millisecond. A day's events depend only on the seed, the date, the song catalogue and the users.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sparkify_assets.generate.names import _enc
from sparkify_assets.generate.plays import _pick_play, _Plays
from sparkify_assets.generate.users import User

EVENT_KEYS = (
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level",
    "location", "method", "page", "registration", "sessionId", "song", "status", "ts",
    "userAgent", "userId",
)  # fmt: skip
DAY_MS = 86_400_000

# Compact event lines like the real log; the key order above. Everything but ts is filled in
# first, because ts is decided after the whole day is planned (see _align_two_users).
_EVENT_HEAD = (
    '{"artist":%s,"auth":"%s","firstName":%s,"gender":%s,"itemInSession":%d,"lastName":%s,'
    '"length":%s,"level":"%s","location":%s,"method":"%s","page":"%s","registration":%s,'
    '"sessionId":%d,"song":%s,"status":%d,"ts":'
)
_EVENT_TAIL = ',"userAgent":%s,"userId":%s}'

# page -> (method, status); Logout, Login and the Submit pages redirect (307) as in the real log.
_PAGES = {
    "NextSong": ("PUT", 200), "Home": ("GET", 200), "Login": ("PUT", 307),
    "Logout": ("PUT", 307), "Settings": ("GET", 200), "Save Settings": ("PUT", 307),
    "About": ("GET", 200), "Help": ("GET", 200), "Upgrade": ("GET", 200),
    "Submit Upgrade": ("PUT", 307), "Downgrade": ("GET", 200), "Submit Downgrade": ("PUT", 307),
    "Error": ("GET", 404),
}  # fmt: skip
# Logged-in pages other than NextSong, weighted by repetition; "Plan" is Upgrade for a free user
# and Downgrade for a paid one.
_OTHER_PAGES = ("Home",) * 10 + ("Settings", "Settings", "Save Settings", "About", "Help", "Help")
_OTHER_PAGES += ("Plan", "Plan", "Error")
_LOGGED_OUT_PAGES = ("Home", "Home", "About", "Help")


@dataclass
class _Session:
    user: User
    size: int
    submits: bool  # this session holds the user's Submit Upgrade/Downgrade of the day
    signs_in: bool = False  # starts logged out (Home, Login): forced once a day
    slot: int = 0  # the user's n-th session of the day: sessions get disjoint windows
    slots: int = 1
    heads: list[str] | None = None  # rendered events but for ts
    tails: list[str] | None = None
    gaps: list[int] | None = None  # ms from each event to the next
    start: int = 0


def _plan_sessions(rng: random.Random, users: list[User], ordinal: int, events: int) -> list:
    """Session sizes adding up to `events`; users changing level today come first."""
    sessions = []
    total = 0
    for user in users:
        # At most half the day goes to level changes, so that ordinary sessions always exist.
        if user.level(ordinal - 1) != user.level(ordinal) and events // 2 - total >= 4:
            size = min(max(4, _session_size(rng)), events // 2 - total)
            sessions.append(_Session(user, size, True))
            total += size
    signs_in = True  # the day's first ordinary session has logged-out events
    while total < events:
        user = users[int(len(users) * rng.random() ** 2)]  # some users are much busier
        size = _session_size(rng)
        sessions.append(_Session(user, max(4, size) if signs_in else size, False, signs_in))
        total += sessions[-1].size
        signs_in = False
    if total > events:
        sessions[-1].size -= total - events
    per_user: dict[str, list[_Session]] = {}
    for session in sessions:
        per_user.setdefault(session.user.user_id, []).append(session)
    for mine in per_user.values():
        for slot, session in enumerate(mine):
            session.slot, session.slots = slot, len(mine)
    return sessions


def _session_size(rng: random.Random) -> int:
    return min(150, 1 + int(rng.expovariate(1 / 12)))


def _session_pages(rng: random.Random, session: _Session) -> list[tuple[str, bool]]:
    """(page, logged in) for each event of a session."""
    size = session.size
    need = 3 if session.submits else 1  # Plan, Submit and an event at the new level
    head = []
    if size - 2 >= need and (rng.random() < 0.17 or session.signs_in):
        head = [("Home", False), ("Login", False)]
    tail = []
    if size - len(head) > need and rng.random() < 0.13:
        tail = [("Logout", True)]
        tail += [(rng.choice(_LOGGED_OUT_PAGES), False) for _ in range(rng.randint(0, 2))]
        tail = tail[: size - len(head) - need]
    body = size - len(head) - len(tail)
    pages = []
    for _ in range(body):
        if rng.random() < 0.84:
            pages.append(("NextSong", True))
        else:
            pages.append((_OTHER_PAGES[int(rng.random() * len(_OTHER_PAGES))], True))
    if session.submits:
        at = rng.randrange(body - 2)
        pages[at : at + 2] = [("Plan", True), ("Submit", True)]
    return head + pages + tail


def _render_session(
    rng: random.Random, session: _Session, ordinal: int, session_id: int, plays: _Plays, due: list
) -> None:
    """Fill in the session's events (all but ts) and the gaps between them."""
    user = session.user
    # Only the submitting session (the user's first today) starts at yesterday's level; when a
    # user's change has no session today, it happened unseen.
    before, after = user.level(ordinal - 1), user.level(ordinal)
    level = before if session.submits else after
    signed_in = (
        _enc(user.first_name), f'"{user.gender}"', _enc(user.last_name), _enc(user.location),
        repr(user.registration),
    )  # fmt: skip
    tail_in = _EVENT_TAIL % (_enc(user.user_agent), f'"{user.user_id}"')
    tail_out = _EVENT_TAIL % ("null", '""')
    heads, tails, gaps = [], [], []
    for item, (page, logged_in) in enumerate(_session_pages(rng, session)):
        if page == "Plan":
            page = "Upgrade" if level == "free" else "Downgrade"
        elif page == "Submit":
            page = "Submit Upgrade" if level == "free" else "Submit Downgrade"
        artist = song = length = "null"
        if page == "NextSong":
            artist, song, length = _pick_play(rng, plays, due)
            gap = int(float(length) * 1000) + rng.randint(0, 3000)
        else:
            gap = rng.randint(1_000, 90_000)
        first, gender, last, location, registration = signed_in if logged_in else ("null",) * 5
        method, status = _PAGES[page]
        heads.append(
            _EVENT_HEAD
            % (artist, "Logged In" if logged_in else "Logged Out", first, gender, item, last,
               length, level, location, method, page, registration, session_id, song, status)
        )  # fmt: skip
        tails.append(tail_in if logged_in else tail_out)
        gaps.append(gap)
        if page.startswith("Submit"):  # the new level holds from the next event on
            level = after
    session.heads, session.tails, session.gaps = heads, tails, gaps


def _place_session(rng: random.Random, session: _Session, day_start: int) -> None:
    """Start time inside the session's window, squeezing the gaps if it would not fit."""
    window = DAY_MS // session.slots
    gaps = session.gaps
    span = sum(gaps[:-1])
    if span >= window:
        scale = max(0.0, (window - len(gaps)) / span)
        gaps[:-1] = [1 + int(g * scale) for g in gaps[:-1]]
        span = sum(gaps[:-1])
    session.start = day_start + session.slot * window + int(rng.random() * (window - span))


def _align_two_users(sessions: list[_Session], day_start: int) -> None:
    """Move one session so that two different users have events at the same millisecond."""
    signed_in = [s for s in sessions if '"auth":"Logged In"' in s.heads[0]]
    for first in signed_in[:20]:
        for other in signed_in:
            if other.user is first.user:
                continue
            window = DAY_MS // other.slots
            low = day_start + other.slot * window
            if low <= first.start and first.start + sum(other.gaps[:-1]) < low + window:
                other.start = first.start
                return


def _day_lines(seed: int, day: date, events: int, users: list[User], plays: _Plays) -> list[str]:
    """The event lines of one day, sorted by ts: a function of its arguments only."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    ordinal = day.toordinal()
    day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000
    sessions = _plan_sessions(rng, users, ordinal, events)
    due = ["twice", "unicode", "catalogue"]
    for number, session in enumerate(sessions):
        # Unique across days: 100,000 sessions a day, ~55 years before ids repeat (INTEGER).
        session_id = (ordinal % 20_000) * 100_000 + number
        _render_session(rng, session, ordinal, session_id, plays, due)
        _place_session(rng, session, day_start)
    _align_two_users(sessions, day_start)
    rows = []
    for number, session in enumerate(sessions):
        ts = session.start
        for item, (head, tail, gap) in enumerate(
            zip(session.heads, session.tails, session.gaps, strict=True)
        ):
            rows.append((ts, number, item, head, tail))
            ts += gap
    rows.sort()
    return [f"{head}{ts}{tail}" for ts, _, _, head, tail in rows]
