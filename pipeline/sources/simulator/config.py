"""What to simulate: the network's size, the carriers' behaviour, and the faults to plant.

Every knob has a default that reads like a real mid-size regional network, so
``SimulationConfig()`` alone is a sensible run; every fault rate can be set to 0.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Faults(BaseModel):
    """Rates of the faults real feeds carry. Each is a probability per emitted event (or per
    ``shipment.created`` for ``old_version``); the simulator counts exactly what it planted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    duplicate: float = Field(default=0.01, ge=0, le=1, description="Producer retry: the exact same line again, later.")
    late: float = Field(default=0.005, ge=0, le=1, description="Held back hours to days after its event_time.")
    out_of_order: float = Field(
        default=0.01, ge=0, le=1, description="Emitted after events that happened later (minutes)."
    )
    malformed: float = Field(
        default=0.001, ge=0, le=1, description="A truncated write of a line (the retry then succeeds)."
    )
    unknown_type: float = Field(default=0.001, ge=0, le=1, description="An extra event of a type the registry lacks.")
    old_version: float = Field(
        default=0.3, ge=0, le=1, description="Share of shipment.created still sent as contract v1."
    )
    camel_case: float = Field(
        default=0.05, ge=0, le=1, description="Sent by a legacy producer: camelCase envelope keys."
    )

    @classmethod
    def none(cls) -> Faults:
        """A clean feed (every event valid, once, in order, current contract versions)."""
        return cls(duplicate=0, late=0, out_of_order=0, malformed=0, unknown_type=0, old_version=0, camel_case=0)


class CarrierProfile(BaseModel):
    """A carrier and how reliably it keeps its promises."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    carrier_id: str
    name: str
    # Probability that line-haul runs late enough to miss the promised date. The true on-time
    # rate is lower still (failed doorstep attempts also cost a day): the ground truth reports it.
    delay_rate: float = Field(ge=0, le=1)
    failed_attempt_rate: float = Field(default=0.08, ge=0, le=1)


# The carriers in dags/seeds/carriers.csv: gold's reference checks reject carriers not seeded there.
DEFAULT_CARRIERS = (
    CarrierProfile(carrier_id="CAR-ACME", name="Acme Parcel", delay_rate=0.04, failed_attempt_rate=0.06),
    CarrierProfile(carrier_id="CAR-SWIFT", name="Swift Logistics", delay_rate=0.12, failed_attempt_rate=0.10),
)


class SimulationConfig(BaseModel):
    """One simulation run. Same config (seed included), same bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 7
    shipments: int = Field(default=1_000, ge=0, description="Shipments booked over the run.")
    days: int = Field(default=1, ge=1, description="Days over which shipments are booked.")
    start: dt.datetime = dt.datetime(2024, 1, 15, tzinfo=dt.UTC)
    hubs: int = Field(default=4, ge=1, le=12, description="Line-haul hubs, one region each.")
    depots_per_hub: int = Field(default=3, ge=1, le=20)
    drivers_per_depot: int | None = Field(
        default=None, ge=1, description="Default: enough for ~120 stops per driver and day, at least 4."
    )
    carriers: tuple[CarrierProfile, ...] = DEFAULT_CARRIERS
    ping_interval_minutes: int = Field(default=10, ge=1, description="GPS ping period while a driver is on a route.")
    exception_rate: float = Field(default=0.015, ge=0, le=1, description="Shipments lost/damaged/held before delivery.")
    capacity_changes_per_day: float = Field(default=2.0, ge=0, description="facility.capacity_changed events per day.")
    source_system: str = "simulator"
    faults: Faults = Faults()
    # A continuation of an earlier run of the same network (the demo's live feed after its
    # backfilled day): shipments numbered after the first run's, the network not onboarded again.
    shipment_offset: int = Field(default=0, ge=0, description="Shipments are numbered from SHP-<offset + 1>.")
    onboard: bool = Field(default=True, description="Emit the network's facility.created / driver.created events.")

    @field_validator("start")
    @classmethod
    def _utc(cls, start: dt.datetime) -> dt.datetime:
        """A naive start means UTC (as everywhere in the platform)."""
        return start.replace(tzinfo=dt.UTC) if start.tzinfo is None else start.astimezone(dt.UTC)
