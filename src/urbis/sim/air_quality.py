"""Air quality: a regional weather driver, station-level pollution, and how sensors see it.

Pure functions of (seed, station, time); time is epoch seconds UTC, local hours are
Europe/Berlin.  The shapes follow the domain reference (§1.5, §5.2, §5.3):

- weather: wind speed log-normal with multi-day persistence; temperature with Bonn's season
  and a day cycle peaking mid-afternoon; relative humidity highest before dawn;
- PM2.5: log-normal regional background shared by all stations (episodes lasting days when
  the wind drops, more in the heating season) plus local noise and a traffic share; PM10 as
  PM2.5 plus a coarse fraction;
- NO2: a double peak with the morning and evening rush hours on weekdays, diluted by wind,
  strongest at stations near main roads;
- O3: an afternoon photochemical peak, larger when it is warm, titrated near traffic;
- low-cost sensors: PM read through the inverse of the US-EPA Barkjohn (2021) correction
  ``PM = 0.524·raw − 0.0862·RH + 5.75`` (so raw readings run about 40 % high, more when
  humid), electrochemical NO2 with an O3 cross-sensitivity, more noise, own T/RH in a warm box;
- faults: a stuck sensor repeats the values of the moment it got stuck; a drifting one
  gains a few per cent a day;
- scripted PM2.5 episodes hold a station's PM2.5 background at a given level.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from urbis.sim.faults import Fault
from urbis.sim.lighting import BERLIN
from urbis.sim.noise import gauss, octaves

Grade = Literal["reference", "low-cost"]
DAY = 86_400.0


@dataclass(frozen=True)
class StationSpec:
    """A station's place in the city and its instrument."""

    device_id: str
    grade: Grade
    traffic_exposure: float  # 0 (park) … 1 (kerbside of a main road)
    urban: float  # 0 (edge of town) … 1 (city centre): heat island and background level
    gain: float = 1.0  # the instrument's calibration factor
    interval: float = 60.0  # seconds between reports


@dataclass(frozen=True)
class Weather:
    """The regional weather at one instant."""

    wind: float  # m/s
    temperature: float  # °C
    humidity: float  # %
    pm25_regional: float  # µg/m³ background, before local effects


@dataclass(frozen=True)
class AirSample:
    """What a station reports (µg/m³, °C, %)."""

    pm25: float
    pm10: float
    no2: float
    o3: float
    temperature: float
    humidity: float

    def as_measures(self) -> dict[str, float]:
        """The device keys of an ``air-quality-station``, rounded as a station sends them."""
        return {
            "pm25": round(self.pm25, 1),
            "pm10": round(self.pm10, 1),
            "no2": round(self.no2, 1),
            "o3": round(self.o3, 1),
            "temperature": round(self.temperature, 1),
            "humidity": round(self.humidity, 1),
        }


def local_hour(t: float) -> tuple[float, int, int]:
    """Local (Europe/Berlin) hour of day as a float, weekday (Monday 0) and day of year."""
    moment = datetime.fromtimestamp(t, BERLIN)
    return moment.hour + moment.minute / 60 + moment.second / 3600, moment.weekday(), moment.timetuple().tm_yday


def traffic_profile(hour: float, weekday: int) -> float:
    """Road traffic relative to the weekday morning peak (1.0): rush hours on weekdays."""

    def bump(centre: float, width: float) -> float:
        return math.exp(-(((hour - centre) / width) ** 2))

    night = 0.08 + 0.07 * bump(12.0, 7.0)
    if weekday < 5:
        return night + 0.92 * bump(7.75, 1.1) + 0.8 * bump(17.25, 1.5) + 0.45 * bump(12.5, 3.0)
    if weekday == 5:
        return night + 0.6 * bump(12.5, 3.5)
    return night + 0.35 * bump(14.5, 3.5)


#: ``(station id, instant) -> µg/m³`` while a PM2.5 episode holds the station, else None.
EpisodeLevel = Callable[[str, float], float | None]


class AirModel:
    """The city's air: one weather driver and per-station pollution, for one seed.

    ``episodes`` tells the PM2.5 level scripted episodes hold a station at (see
    :mod:`urbis.sim.incidents`); without it the air follows the weather alone.
    """

    def __init__(self, seed: int, episodes: EpisodeLevel | None = None):
        self.seed = seed
        self.episodes = episodes
        self._weather_cache: tuple[int, Weather] | None = None

    def weather(self, t: float) -> Weather:
        """The regional weather in the minute holding ``t`` (the same for every station)."""
        minute = int(t // 60)
        if self._weather_cache is not None and self._weather_cache[0] == minute:
            return self._weather_cache[1]
        # The weather of the minute's start, so it does not depend on which instant asked first.
        t = minute * 60.0
        seed = self.seed
        hour, _weekday, yday = local_hour(t)
        season = math.cos(2 * math.pi * (yday - 20) / 365.25)  # +1 mid-January, -1 mid-July
        # Wind: median ~3 m/s, multi-day calm and windy spells.
        wind = 3.0 * math.exp(octaves(seed, "wind", t, ((2.5 * DAY, 0.45), (6 * 3600.0, 0.2))))
        wind *= 1.0 + 0.25 * math.sin(2 * math.pi * (hour - 9) / 24)  # a little windier by day
        # Temperature: Bonn's season (Jan ~2.5 °C, Jul ~19.5 °C), a day cycle, synoptic swings.
        amplitude = 4.5 - 1.0 * season
        temperature = 11.0 - 8.5 * season + amplitude * math.cos(2 * math.pi * (hour - 15) / 24)
        temperature += octaves(seed, "temperature", t, ((3 * DAY, 2.5), (8 * 3600.0, 0.7)))
        # Relative humidity: highest before dawn, lower when warm, wetter spells.
        humidity = 76.0 + 12.0 * math.cos(2 * math.pi * (hour - 5) / 24) + 6.0 * season
        humidity += octaves(seed, "humidity", t, ((2 * DAY, 7.0), (4 * 3600.0, 3.0)))
        humidity = min(100.0, max(25.0, humidity))
        # Regional PM2.5: log-normal, episodes when calm, more in the heating season.
        log_pm = math.log(9.0) + 0.25 * season + 0.45 * octaves(seed, "pm", t, ((3 * DAY, 1.0), (12 * 3600.0, 0.5)))
        log_pm -= 0.6 * math.log(max(wind, 0.5) / 3.0)
        weather = Weather(wind=wind, temperature=temperature, humidity=humidity, pm25_regional=math.exp(log_pm))
        self._weather_cache = (minute, weather)
        return weather

    def truth(self, station: StationSpec, t: float) -> AirSample:
        """What is really in the air at the station at ``t``."""
        seed = self.seed
        weather = self.weather(t)
        hour, weekday, yday = local_hour(t)
        season = math.cos(2 * math.pi * (yday - 20) / 365.25)
        traffic = traffic_profile(hour, weekday)
        dilution = (max(weather.wind, 0.5) / 3.0) ** 0.6
        key = station.device_id
        local = octaves(seed, f"local-{key}", t, ((6 * 3600.0, 0.25), (1800.0, 0.1)))
        # Night-time inversions trap particles; midday mixing dilutes them.
        boundary = 1.0 + 0.2 * math.cos(2 * math.pi * (hour - 7) / 24)
        episode = self.episodes(key, t) if self.episodes is not None else None
        if episode is None:
            pm25 = weather.pm25_regional * boundary * (0.9 + 0.2 * station.urban) * math.exp(local)
        else:
            # An episode (smoke, dust, a clean windy spell) outweighs the local weather: the
            # background is the episode's level, only the station's own traffic adds to it.
            pm25 = episode
        pm25 += 5.0 * station.traffic_exposure * traffic / dilution
        coarse = 0.5 + 0.25 * (1 - weather.humidity / 100) + 0.2 * station.traffic_exposure * traffic
        pm10 = pm25 * (1.0 + coarse) + 6.0 * station.traffic_exposure * traffic / dilution
        no2_background = (13.0 + 5.0 * season) * (0.8 + 0.4 * station.urban) * (0.6 + 0.5 * traffic) / dilution**0.5
        no2 = no2_background + 55.0 * station.traffic_exposure * traffic / dilution
        no2 *= math.exp(octaves(seed, f"no2-{key}", t, ((3 * 3600.0, 0.15),)))
        photochem = (10.0 + 4.0 * max(0.0, weather.temperature - 8.0)) * math.exp(-(((hour - 15.0) / 3.5) ** 2))
        o3 = (52.0 - 14.0 * season) * min(1.3, max(0.5, dilution)) ** 0.3 + photochem - 0.35 * (no2 - no2_background)
        o3 -= 0.25 * no2_background
        o3 *= math.exp(octaves(seed, "o3", t, ((DAY, 0.15),)))
        temperature = weather.temperature + 1.2 * station.urban + 0.3 * gauss(seed, "t-offset", key)
        humidity = min(100.0, max(5.0, weather.humidity - 3.0 * station.urban))
        return AirSample(max(0.5, pm25), max(1.0, pm10), max(0.5, no2), max(1.0, o3), temperature, humidity)

    def reading(self, station: StationSpec, t: float, faults: list[Fault] | tuple[Fault, ...] = ()) -> AirSample:
        """What the station reports at ``t``, given its instrument and its faults in force."""
        stuck = next((f for f in faults if f.kind == "stuck" and f.active(t)), None)
        if stuck is not None:
            # A flatline: the values of the instant it got stuck, every time.
            return self.reading(station, stuck.start, [f for f in faults if f.kind != "stuck"])
        truth = self.truth(station, t)
        key = station.device_id
        moment = int(t)
        drift = 1.0
        for fault in faults:
            if fault.kind == "drift" and fault.active(t):
                per_day = 0.01 + 0.04 * fault.draw("rate")  # 1–5 % a day
                drift *= 1.0 + min(0.8, per_day * (t - fault.start) / DAY)
        if station.grade == "reference":
            spread = 0.02

            def noisy(value: float, name: str) -> float:
                return value * station.gain * drift * (1.0 + spread * gauss(self.seed, name, key, moment))

            return AirSample(
                pm25=noisy(truth.pm25, "pm25"),
                pm10=noisy(truth.pm10, "pm10"),
                no2=noisy(truth.no2, "no2"),
                o3=noisy(truth.o3, "o3"),
                temperature=truth.temperature + 0.1 * gauss(self.seed, "temp", key, moment),
                humidity=min(100.0, max(0.0, truth.humidity + 1.0 * gauss(self.seed, "rh", key, moment))),
            )
        # A low-cost node: its own T/RH in a sun-warmed box, optical PM, electrochemical gases.
        temperature = truth.temperature + 1.5 + 0.3 * gauss(self.seed, "temp", key, moment)
        humidity = min(100.0, max(0.0, truth.humidity - 4.0 + 2.0 * gauss(self.seed, "rh", key, moment)))
        raw = barkjohn_raw(truth.pm25, truth.humidity)
        optical = raw / truth.pm25  # the same particle response for both size channels
        pm25 = raw * station.gain * drift * (1.0 + 0.08 * gauss(self.seed, "pm25", key, moment))
        pm10 = truth.pm10 * optical * 0.9 * station.gain * drift * (1.0 + 0.12 * gauss(self.seed, "pm10", key, moment))
        no2 = (truth.no2 + 0.25 * truth.o3) * station.gain * drift + 4.0 * gauss(self.seed, "no2", key, moment)
        o3 = truth.o3 * station.gain * drift + 5.0 * gauss(self.seed, "o3", key, moment)
        return AirSample(max(0.0, pm25), max(0.0, pm10), max(0.0, no2), max(0.0, o3), temperature, humidity)


def barkjohn_raw(pm25: float, humidity: float) -> float:
    """The raw ``cf_1`` reading a PurpleAir-like sensor gives for true PM2.5 at ``humidity`` %.

    The inverse of the US-EPA correction (Barkjohn et al. 2021) ``PM = 0.524·raw − 0.0862·RH
    + 5.75``.  At very clean air that inverse falls below the truth, which a real optical
    counter does not do: the reading is kept at least 10 % above it.
    """
    return max(1.1 * pm25, (pm25 + 0.0862 * humidity - 5.75) / 0.524)


def barkjohn_corrected(raw: float, humidity: float) -> float:
    """The US-EPA (Barkjohn 2021) correction of a raw low-cost PM2.5 reading."""
    return 0.524 * raw - 0.0862 * humidity + 5.75
