"""Request bodies of each arrival, filled from synthetic citizens (private).

A population of the scenario's region (``fakes.people.generate``) is drawn once per run from the
scenario seed, sized to the stream; each birth arrival gets a mother (a woman with a
personal ID, drawn by the age-specific fertility schedule and birth-order shares the fakes' families use,
``fakes.people.mother_weights``), her household and a newborn named after the father's family, whose
``birth_order`` is one more than the mother's children in the population; each death arrival a
distinct deceased person (aged 60+ where possible; one death per person) and a declarant from
the household. Dates follow the scenario's registration lags. The same seed and stream give the
same bodies in every worker process, so a worker's share and a restarted run agree.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from fakes import people
from scenarios.demand import start_datetime
from scenarios.model import DEATH_STATUSES, Scenario

__all__ = ["CitizenPayloads"]

_EPOCH = date(1970, 1, 1)
_FACILITIES = tuple(f"01{k:03d}" for k in range(1, 41))  # 40 maternity/general hospitals [U]
_HOSPITAL_NAMES = ("Bệnh viện Phụ sản Hà Nội", "Bệnh viện Bạch Mai", "Bệnh viện Đa khoa Xanh Pôn",
                   "Bệnh viện Phụ sản Trung ương", "Bệnh viện E")  # fmt: skip
_CHILD_RELATION = {"head": "child", "spouse": "child", "child": "grandchild"}


class CitizenPayloads:
    """Builds the hospital and portal bodies of the arrivals of ``stream`` (the *whole* stream).

    Raises ValueError when the stream has a service the scenario does not define.
    """

    def __init__(self, scenario: Scenario, stream: npt.NDArray[np.void], seed: int | None = None) -> None:
        self.scenario = scenario
        seed = scenario.meta.seed if seed is None else seed
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x9E0F,)))
        deaths = int(np.count_nonzero(stream["service"] == 1))
        size = max(5_000, 40 * int(stream.size), 12 * deaths)
        self.pop = people.generate(scenario, rng, size)
        self.variants: dict[str, tuple[str, ...]] = {
            s: tuple(v.variants) for s, v in scenario.services.items()
        }
        self._assign(stream, rng)

    def _assign(self, stream: npt.NDArray[np.void], rng: np.random.Generator) -> None:
        pop, n = self.pop, stream.size
        age = pop.age_years(0.0)
        self.children = np.bincount(pop.mother[pop.mother >= 0], minlength=pop.size)
        women = np.flatnonzero(pop.female & (pop.pid >= 0))
        weight = np.zeros(pop.size)
        weight[women] = people.mother_weights(age[women], self.children[women], self.scenario.region.scope)
        mothers = np.flatnonzero(weight > 0)
        old = np.flatnonzero((age >= 60) & (pop.pid >= 0))
        rest = np.flatnonzero((age >= 20) & (age < 60) & (pop.pid >= 0))
        elders = np.concatenate([rng.permutation(old), rng.permutation(rest)])
        if mothers.size == 0:
            raise ValueError("the generated population has no women of childbearing age (15-49) with a "
                             "personal ID")
        births, deaths = stream["service"] == 0, stream["service"] == 1
        if int(deaths.sum()) > elders.size:
            raise ValueError(f"{int(deaths.sum())} deaths but only {elders.size} adults to draw from")
        self.person = np.full(int(stream["dossier"].max(initial=-1)) + 1, -1, np.int64)
        p = weight[mothers] / weight[mothers].sum()
        self.person[stream["dossier"][births]] = mothers[rng.choice(mothers.size, int(births.sum()), p=p)]
        self.person[stream["dossier"][deaths]] = elders[: int(deaths.sum())]
        self.child_female = np.zeros(self.person.size, bool)
        self.child_female[stream["dossier"]] = rng.random(n) < 0.48
        girls, boys = np.flatnonzero(pop.female), np.flatnonzero(~pop.female)
        female = self.child_female[stream["dossier"]]
        donor = np.where(female, girls[rng.integers(0, girls.size, n)], boys[rng.integers(0, boys.size, n)])
        self.name_donor = np.zeros(self.person.size, np.int64)
        self.name_donor[stream["dossier"]] = donor
        lag_b = self.scenario.demand.lag_birth_days.sample(rng, n)
        lag_d = self.scenario.demand.lag_death_days.sample(rng, n)
        self.lag_days = np.zeros(self.person.size)
        self.lag_days[stream["dossier"]] = np.where(births, lag_b, lag_d)
        self.facility = np.zeros(self.person.size, np.int64)
        self.facility[stream["dossier"]] = rng.integers(0, len(_FACILITIES), n)

    # -- helpers ---------------------------------------------------------------------------------

    def _submitted_date(self, a: np.void) -> date:
        return (start_datetime(self.scenario) + timedelta(minutes=float(a["submitted"]))).date()

    def _event_date(self, a: np.void) -> date:
        return self._submitted_date(a) - timedelta(days=int(self.lag_days[int(a["dossier"])]))

    def _dob(self, i: int) -> date:
        return _EPOCH + timedelta(days=int(self.pop.dob[i]))

    def _household(self, i: int) -> tuple[str, str, str]:
        hh = int(self.pop.household[i])
        unit = self.pop.units[self.pop.hh_unit[hh]]
        return f"HK{hh:010d}", f"{unit.code:05d}", self.pop.address(hh)

    def _child_name(self, n: int, mother: int) -> str:
        """The father's family name (the mother's without one) + a donor's middle and given names."""
        father = _husband(self.pop, mother)
        family = self.pop.full_name(father if father >= 0 else mother).split()[0]
        donor = self.pop.full_name(int(self.name_donor[n])).split()
        return " ".join([family, *donor[1:]])

    # -- Payloads protocol -------------------------------------------------------------------------

    def certificate(self, arrival: np.void) -> tuple[str, str, dict[str, Any]]:
        """``(kind, path, body)`` of the hospital document of ``arrival``."""
        n, i = int(arrival["dossier"]), int(self.person[int(arrival["dossier"])])
        if int(arrival["service"]) == 0:
            return "health.birth_certificate", "/health/birth-certificates", self._birth_cert(n, i, arrival)
        return "health.death_notice", "/health/death-notices", self._death_notice(n, i, arrival)

    def _birth_cert(self, n: int, mother: int, a: np.void) -> dict[str, Any]:
        pop = self.pop
        _, commune, _ = self._household(mother)
        husband = _husband(pop, mother)
        body: dict[str, Any] = {
            "facility_code": _FACILITIES[int(self.facility[n])],
            "mother_name": pop.full_name(mother),
            "mother_birth_date": self._dob(mother).isoformat(),
            "mother_pid": pop.pid_str(mother),
            "residence_province": pop.units[pop.hh_unit[pop.household[mother]]].province,
            "residence_commune": commune,
            "child_name": self._child_name(n, mother),
            "child_sex": "F" if self.child_female[n] else "M",
            "child_birth_date": self._event_date(a).isoformat(),
            "weight_grams": 2500 + (n * 37) % 1500,
            "birth_order": min(int(self.children[mother]) + 1, 20),  # her rank-th child (not SO_CON)
            "place_of_birth": _HOSPITAL_NAMES[n % len(_HOSPITAL_NAMES)],
        }
        if pop.bhxh[mother] >= 0:
            body["mother_bhxh"] = pop.bhxh_str(mother)
        if husband >= 0:
            body["father_name"] = pop.full_name(husband)
        return body

    def _death_notice(self, n: int, person: int, a: np.void) -> dict[str, Any]:
        pop = self.pop
        death = max(self._event_date(a), self._dob(person) + timedelta(days=1))
        return {
            "facility_code": _FACILITIES[int(self.facility[n])],
            "deceased_pid": pop.pid_str(person),
            "deceased_name": pop.full_name(person),
            "deceased_sex": "F" if pop.female[person] else "M",
            "deceased_birth_date": self._dob(person).isoformat(),
            "death_date": death.isoformat(),
            "place_of_death": _HOSPITAL_NAMES[n % len(_HOSPITAL_NAMES)],
            "cause": "bệnh",
        }

    def _applicant(self, arrival: np.void) -> int:
        """The person applying for ``arrival``: the mother of a birth, the declarant of a death."""
        i = int(self.person[int(arrival["dossier"])])
        return i if int(arrival["service"]) == 0 else _declarant(self.pop, i)

    def applicant_pid(self, arrival: np.void) -> str:
        """The ``applicant_pid`` of the dossier of ``arrival`` (an online applicant's citizen key
        is bound to it, fakes/CONTRACT.md §2)."""
        return self.pop.pid_str(self._applicant(arrival))

    def dossier(self, arrival: np.void, document_id: str, *, complete: bool = True) -> dict[str, Any]:
        """The portal submission of ``arrival``; without the group's section if not ``complete``."""
        n, i = int(arrival["dossier"]), int(self.person[int(arrival["dossier"])])
        service = "birth" if int(arrival["service"]) == 0 else "death"
        pop = self.pop
        applicant = self._applicant(arrival)
        body: dict[str, Any] = {
            "service": service,
            "variant": self.variants[service][int(arrival["variant"])],
            "channel": "online" if int(arrival["channel"]) == 0 else "desk",
            "applicant_name": pop.full_name(applicant),
            "applicant_pid": pop.pid_str(applicant),
        }
        if complete:
            body[service] = (
                self._birth(n, i, document_id) if service == "birth" else self._death(i, arrival, document_id)
            )
        return body

    def _birth(self, n: int, mother: int, cert: str) -> dict[str, Any]:
        pop = self.pop
        household, commune, address = self._household(mother)
        relation = people.RELATIONS[int(pop.relation[mother])]
        husband = _husband(pop, mother)
        section: dict[str, Any] = {
            "birth_certificate_id": cert,
            "child_name": self._child_name(n, mother),
            "unit_code": commune,
            "declarant_relation": "mother",
            "household_id": household,
            "relation_to_head": _CHILD_RELATION.get(relation, "other"),
            "address": address,
            "initial_care_facility": _FACILITIES[int(self.facility[n])],
        }
        if husband >= 0:
            section["father_name"] = pop.full_name(husband)
        return section

    def _death(self, person: int, a: np.void, notice: str) -> dict[str, Any]:
        pop = self.pop
        _, commune, _ = self._household(person)
        declarant = _declarant(pop, person)
        return {
            "death_notice_id": notice,
            "unit_code": commune,
            "status": DEATH_STATUSES[int(a["status"])] if int(a["status"]) < len(DEATH_STATUSES) else "none",
            "declarant_relation": "relative" if declarant != person else "other",
            "claimant_name": pop.full_name(declarant),
            "claimant_relation": "relative" if declarant != person else "other",
            "bank_account": f"{(person * 7919) % 10**10:010d}",
        }

    def household_of(self, dossier: int) -> str:
        """The household id a birth dossier registers the child into."""
        return self._household(int(self.person[dossier]))[0]


def _husband(pop: people.Population, woman: int) -> int:
    """The head or spouse of ``woman``'s household who is a man, or -1."""
    hh, rel = int(pop.household[woman]), people.RELATIONS[int(pop.relation[woman])]
    if rel not in ("head", "spouse"):
        return -1
    lo, hi = np.searchsorted(pop.household, [hh, hh + 1]) if _sorted(pop) else (0, pop.size)
    rows = np.arange(lo, hi)
    rows = rows[(pop.household[rows] == hh) & ~pop.female[rows]]
    rows = rows[
        np.isin(pop.relation[rows], (people.RELATIONS.index("head"), people.RELATIONS.index("spouse")))
    ]
    return int(rows[0]) if rows.size else -1


def _declarant(pop: people.Population, person: int) -> int:
    """Another adult of ``person``'s household, else ``person`` themselves."""
    hh = int(pop.household[person])
    lo, hi = np.searchsorted(pop.household, [hh, hh + 1]) if _sorted(pop) else (0, pop.size)
    rows = np.arange(lo, hi)
    rows = rows[(pop.household[rows] == hh) & (rows != person) & (pop.pid[rows] >= 0)]
    rows = rows[pop.age_years(0.0)[rows] >= 18]
    return int(rows[0]) if rows.size else person


def _sorted(pop: people.Population) -> bool:
    return bool(pop.size < 2 or np.all(pop.household[1:] >= pop.household[:-1]))
