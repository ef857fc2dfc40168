"""The carrier network: hubs and depots (with regions and capacities), carriers and their drivers.

Built deterministically from the config and the run's random generator. Facility ids follow the
spine's style (``FAC-CHI``) so the small generator and the simulator read alike in the API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pipeline.sources.simulator.config import CarrierProfile, SimulationConfig
from pipeline.sources.simulator.emit import Rng

# (region, timezone, hub city, depot cities); a city is (code, name, state, postal code, lat, lon).
_City = tuple[str, str, str, str, float, float]
_REGIONS: tuple[tuple[str, str, _City, tuple[_City, ...]], ...] = (
    (
        "MIDWEST",
        "America/Chicago",
        ("CHI", "Chicago", "IL", "60601", 41.88, -87.63),
        (
            ("IND", "Indianapolis", "IN", "46204", 39.77, -86.16),
            ("DET", "Detroit", "MI", "48201", 42.33, -83.05),
            ("MKE", "Milwaukee", "WI", "53202", 43.04, -87.91),
            ("CMH", "Columbus", "OH", "43215", 39.96, -83.00),
            ("STL", "St. Louis", "MO", "63101", 38.63, -90.20),
        ),
    ),
    (
        "NORTHEAST",
        "America/New_York",
        ("EWR", "Newark", "NJ", "07102", 40.74, -74.17),
        (
            ("BOS", "Boston", "MA", "02108", 42.36, -71.06),
            ("PHL", "Philadelphia", "PA", "19103", 39.95, -75.17),
            ("PVD", "Providence", "RI", "02903", 41.82, -71.41),
            ("HFD", "Hartford", "CT", "06103", 41.76, -72.67),
            ("ALB", "Albany", "NY", "12207", 42.65, -73.75),
        ),
    ),
    (
        "SOUTH",
        "America/Chicago",
        ("DFW", "Dallas", "TX", "75201", 32.78, -96.80),
        (
            ("HOU", "Houston", "TX", "77002", 29.76, -95.37),
            ("AUS", "Austin", "TX", "78701", 30.27, -97.74),
            ("OKC", "Oklahoma City", "OK", "73102", 35.47, -97.52),
            ("MSY", "New Orleans", "LA", "70112", 29.95, -90.07),
            ("LIT", "Little Rock", "AR", "72201", 34.75, -92.29),
        ),
    ),
    (
        "WEST",
        "America/Los_Angeles",
        ("ONT", "Ontario", "CA", "91761", 34.06, -117.65),
        (
            ("LAX", "Los Angeles", "CA", "90012", 34.05, -118.24),
            ("SAN", "San Diego", "CA", "92101", 32.72, -117.16),
            ("LAS", "Las Vegas", "NV", "89101", 36.17, -115.14),
            ("PHX", "Phoenix", "AZ", "85003", 33.45, -112.07),
            ("SBA", "Santa Barbara", "CA", "93101", 34.42, -119.70),
        ),
    ),
    (
        "SOUTHEAST",
        "America/New_York",
        ("ATL", "Atlanta", "GA", "30303", 33.75, -84.39),
        (
            ("CLT", "Charlotte", "NC", "28202", 35.23, -80.84),
            ("BNA", "Nashville", "TN", "37203", 36.16, -86.78),
            ("JAX", "Jacksonville", "FL", "32202", 30.33, -81.66),
            ("BHM", "Birmingham", "AL", "35203", 33.52, -86.80),
            ("SAV", "Savannah", "GA", "31401", 32.08, -81.09),
        ),
    ),
    (
        "NORTHWEST",
        "America/Los_Angeles",
        ("SEA", "Seattle", "WA", "98101", 47.61, -122.33),
        (
            ("PDX", "Portland", "OR", "97204", 45.52, -122.68),
            ("GEG", "Spokane", "WA", "99201", 47.66, -117.43),
            ("BOI", "Boise", "ID", "83702", 43.62, -116.20),
            ("TAC", "Tacoma", "WA", "98402", 47.25, -122.44),
            ("EUG", "Eugene", "OR", "97401", 44.05, -123.09),
        ),
    ),
)
# fmt: off
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Maria", "James", "Wei", "Aisha", "Lucas", "Sofia", "Ivan",
          "Priya", "Kenji", "Fatima", "Noah", "Olivia", "Diego", "Hannah", "Omar", "Chloe", "Mateo", "Yuki", "Liam")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Garcia", "Smith", "Chen", "Khan", "Muller",
         "Rossi", "Petrov", "Patel", "Tanaka", "Haddad", "Johnson", "Brown", "Lopez", "Schmidt", "Ali", "Silva")
_STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Lake Rd", "Hill St", "Park Ave", "Pine Ct",
            "River Rd", "Sunset Blvd", "Washington St", "2nd St", "Church St", "Mill Rd", "Spring St")
# fmt: on
_DOMAINS = ("example.com", "mail.example.org", "inbox.example.net")
STOPS_PER_DRIVER_DAY = 120
_VEHICLES = ("VAN", "VAN", "VAN", "TRUCK", "CAR", "BIKE")


@dataclass(frozen=True, slots=True)
class Facility:
    facility_id: str
    name: str
    kind: str  # HUB | DEPOT
    region: str
    timezone: str
    city: str
    state: str
    postal_code: str
    lat: float
    lon: float
    capacity_per_hour: int
    hub_id: str  # the hub serving it (a hub serves itself)


@dataclass(frozen=True, slots=True)
class Driver:
    driver_id: str
    carrier_id: str
    name: str
    phone: str
    home_facility_id: str
    vehicle_type: str
    route_radius_km: float
    route_phase: float  # where on its loop the driver starts the shift, radians


@dataclass
class Network:
    facilities: list[Facility]
    carriers: tuple[CarrierProfile, ...]
    drivers: list[Driver]
    # depot -> carrier -> its drivers at that depot (a shipment is handed to one of them)
    crews: dict[str, dict[str, list[Driver]]] = field(default_factory=dict)

    @property
    def hubs(self) -> list[Facility]:
        return [f for f in self.facilities if f.kind == "HUB"]

    @property
    def depots(self) -> list[Facility]:
        return [f for f in self.facilities if f.kind == "DEPOT"]


def person(rng: Rng, serial: int) -> tuple[str, str, str]:
    """A realistic (name, email, phone): personal data the pipeline must protect before any sink."""
    first, last = rng.pick(_FIRST), rng.pick(_LAST)
    email = f"{first.lower()}.{last.lower()}{serial}@{rng.pick(_DOMAINS)}"
    phone = f"+1-{rng.between(201, 990)}-555-{rng.between(0, 10_000):04d}"
    return f"{first} {last}", email, phone


def street(rng: Rng) -> str:
    return f"{rng.between(1, 9_999)} {rng.pick(_STREETS)}"


def build_network(config: SimulationConfig, rng: Rng) -> Network:
    facilities: list[Facility] = []
    for region, timezone, hub_city, depot_cities in _REGIONS[: config.hubs]:
        hub_id = f"FAC-{hub_city[0]}"
        facilities.append(_facility(hub_city, hub_id, "HUB", region, timezone, hub_id, 5_000))
        for i in range(config.depots_per_hub):
            city = depot_cities[i % len(depot_cities)]
            round_ = i // len(depot_cities)  # more depots than cities: a second depot in the same city
            depot_id = f"FAC-{city[0]}" + (str(round_ + 1) if round_ else "")
            offset = (
                city[0],
                city[1] + (f" {round_ + 1}" if round_ else ""),
                *city[2:4],
                city[4] + 0.05 * round_,
                city[5],
            )
            facilities.append(_facility(offset, depot_id, "DEPOT", region, timezone, hub_id, 800))

    drivers: list[Driver] = []
    crews: dict[str, dict[str, list[Driver]]] = {}
    depots = [f for f in facilities if f.kind == "DEPOT"]
    per_depot = max(config.drivers_per_depot or _crew_size(config, len(depots)), len(config.carriers))
    for depot in depots:  # every carrier serves every depot
        crew: dict[str, list[Driver]] = {c.carrier_id: [] for c in config.carriers}
        for i in range(per_depot):
            carrier = config.carriers[i % len(config.carriers)]
            name, _, phone = person(rng, len(drivers))
            driver = Driver(
                driver_id=f"DRV-{len(drivers) + 1:04d}",
                carrier_id=carrier.carrier_id,
                name=name,
                phone=phone,
                home_facility_id=depot.facility_id,
                vehicle_type=rng.pick(_VEHICLES),
                route_radius_km=round(rng.uniform(3, 12), 1),
                route_phase=rng.uniform(0, 2 * math.pi),
            )
            drivers.append(driver)
            crew[carrier.carrier_id].append(driver)
        crews[depot.facility_id] = crew
    return Network(facilities=facilities, carriers=config.carriers, drivers=drivers, crews=crews)


def _crew_size(config: SimulationConfig, depots: int) -> int:
    """Drivers per depot for the run's volume: about 120 stops per driver and day, at least 4."""
    per_day = config.shipments / config.days
    return max(4, math.ceil(per_day / depots / STOPS_PER_DRIVER_DAY))


def _facility(city: _City, facility_id: str, kind: str, region: str, tz: str, hub_id: str, capacity: int) -> Facility:
    _code, name, state, postal, lat, lon = city
    label = "Hub" if kind == "HUB" else "Depot"
    return Facility(facility_id, f"{name} {label}", kind, region, tz, name, state, postal, lat, lon, capacity, hub_id)


def route_position(
    driver: Driver, depot: Facility, seconds_into_shift: float, shift_seconds: float
) -> tuple[float, float, float]:
    """Where a driver is on its delivery loop around the depot (one loop per shift), and its
    compass heading (degrees, 0 = north): the loop runs counter-clockwise on the map."""
    angle = driver.route_phase + 2 * math.pi * seconds_into_shift / shift_seconds
    km_per_lat = 111.0
    km_per_lon = 111.0 * math.cos(math.radians(depot.lat))
    return (
        round(depot.lat + driver.route_radius_km * math.sin(angle) / km_per_lat, 5),
        round(depot.lon + driver.route_radius_km * math.cos(angle) / km_per_lon, 5),
        round(math.degrees(-angle) % 360, 1),  # d(lat) ~ cos, d(lon) ~ -sin: heading = atan2(-sin, cos)
    )
