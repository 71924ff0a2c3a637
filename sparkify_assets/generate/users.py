"""The user population: who each user is, and whether they are free or paid on a given day.

Users move between free and paid; a user's level on a day is a function of (seed, user, date)
alone, so that any day can be generated on its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sparkify_assets.generate.names import (
    _FIRST_NAMES,
    _LAST_NAMES,
    _USER_AGENTS,
    _USER_LOCATIONS,
)


@dataclass(frozen=True)
class User:
    user_id: str
    first_name: str
    last_name: str
    gender: str
    location: str
    user_agent: str
    registration: float
    # Level on a day: paid while (day ordinal + phase) % cycle < paid_days; cycle 0 = never
    # changes (fixed_level). The level is thus a function of (seed, user, date) alone.
    cycle: int
    paid_days: int
    phase: int
    fixed_level: str

    def level(self, ordinal: int) -> str:
        """The level at the end of the day with this ordinal."""
        if self.cycle == 0:
            return self.fixed_level
        return "paid" if (ordinal + self.phase) % self.cycle < self.paid_days else "free"


def build_users(seed: int, users: int) -> list[User]:
    """The user population: user n is the same whatever the population size."""
    rng = random.Random(f"{seed}:users")
    result = []
    for n in range(users):
        gender = rng.choice("MF")
        first, last = rng.choice(_FIRST_NAMES[gender]), rng.choice(_LAST_NAMES)
        location, agent = rng.choice(_USER_LOCATIONS), rng.choice(_USER_AGENTS)
        registration = float(rng.randrange(1_527_811_200_000, 1_541_030_400_000))  # Jun-Oct 2018
        cycle = rng.randint(20, 120) if rng.random() < 0.5 else 0
        paid_days = rng.randint(1, cycle - 1) if cycle else 0
        phase = rng.randrange(cycle) if cycle else 0
        fixed = "paid" if rng.random() < 0.25 else "free"
        if n < 8:  # users 1-8 take turns: each day one of them upgrades and one downgrades
            cycle, paid_days, phase = 8, 4, n
        result.append(
            User(str(n + 1), first, last, gender, location, agent, registration, cycle,
                 paid_days, phase, fixed)
        )  # fmt: skip
    return result
