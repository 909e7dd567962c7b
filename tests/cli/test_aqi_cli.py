"""``urbis aqi``: indices from command-line concentrations, as JSON; bad input exits 2 with a message."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from urbis.cli.aqi import aqi_command

app = typer.Typer()
app.command("aqi")(aqi_command)


@app.callback()
def _group() -> None:
    """Keep ``aqi`` a subcommand, as it is under ``urbis``."""


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["aqi", *args], prog_name="urbis")


def ok(*args: str) -> dict[str, Any]:
    result = run(*args)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def plain(text: str) -> str:
    """The output without the error panel's frame and line wrapping."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text))


def test_one_pm25_value() -> None:
    document = ok("--value", "pm25:24h:35.5:ug/m3")
    assert document["scale"] == "us-2024"
    assert (document["index"], document["category"], document["colour"]) == (
        101,
        "Unhealthy for Sensitive Groups",
        "#FF7E00",
    )
    assert document["responsible_pollutant"] == "pm25"
    [sub] = document["sub_indices"]
    assert sub == {
        "pollutant": "pm25",
        "averaging": "24h",
        "concentration": 35.5,
        "unit": "ug/m3",
        "unit_code": "GQ",
        "index": 101,
        "category": "Unhealthy for Sensitive Groups",
        "colour": "#FF7E00",
        "beyond_scale": False,
        "flags": [],
        "notes": [],
    }
    assert "nowcast" not in document


def test_several_values_and_the_responsible_pollutant() -> None:
    # PM2.5 9.0 → 50; O3 8-h 0.080 ppm → 49/0.014 · 0.009 + 101 = 132.5 → 133
    document = ok("-v", "pm25:24h:9.0:ug/m3", "-v", "o3:8h:0.080:ppm")
    assert (document["index"], document["responsible_pollutant"]) == (133, "o3")
    assert [sub["index"] for sub in document["sub_indices"]] == [50, 133]


def test_the_unit_defaults_to_the_tables_unit() -> None:
    # o3 8-h without a unit is read in ppm: 0.0549 truncates to 0.054 → 50
    document = ok("--value", "o3:8h:0.0549")
    assert document["sub_indices"][0]["unit"] == "ppm"
    assert document["sub_indices"][0]["concentration"] == 0.054
    assert document["index"] == 50


def test_a_conversion_is_shown() -> None:
    # 100 µg/m³ NO2 = 53.14 ppb → 53 → 50
    document = ok("--value", "no2:1h:100:ug/m3")
    assert document["sub_indices"][0]["concentration"] == 53
    assert document["sub_indices"][0]["unit"] == "ppb"
    assert document["index"] == 50


def test_beyond_500_is_marked() -> None:
    # 199/99.9 · (425.3 − 225.5) + 301 = 699
    document = ok("--value", "pm25:24h:425.3")
    assert (document["index"], document["beyond_scale"], document["category"]) == (699, True, "Hazardous")


def test_nowcast() -> None:
    # 10, 8, 12 then missing: w = 2/3, NowCast = 186/19 = 9.79 → 9.7 → 52
    document = ok("--nowcast", "10,8,12,-,-,-,-,-,-,-,-,-")
    assert document["nowcast"]["value"] == 9.7
    assert document["nowcast"]["weight"] == pytest.approx(2 / 3)
    assert document["nowcast"]["valid"] is True
    assert (document["index"], document["responsible_pollutant"]) == (52, "pm25")
    assert document["sub_indices"][0]["averaging"] == "nowcast"


def test_nowcast_with_other_values() -> None:
    # NowCast 40, 10, 20 → w 0.5 → 28.5 → 87; NO2 54 ppb → 51
    document = ok("--nowcast", "40,10,20,,,,,,,,,", "--value", "no2:1h:54:ppb")
    assert (document["index"], document["responsible_pollutant"]) == (87, "pm25")


def test_an_invalid_nowcast_is_reported_not_an_error() -> None:
    document = ok("--nowcast", "-,-,20,20,20,20,20,20,20,20,20,20")
    assert document["nowcast"]["valid"] is False
    assert "2 needed" in document["nowcast"]["notes"][0]
    assert document["index"] is None
    assert document["sub_indices"] == []


def test_o3_nowcast_is_flagged_approximate() -> None:
    # 0.85 · 60 + 4.5 = 55.5 ppb → 55 ppb = 0.055 ppm → 51
    document = ok("--nowcast", "60,-,-,-,-,-,-,-,-,-,-,-", "--nowcast-pollutant", "o3")
    assert document["nowcast"]["approximate"] is True
    assert document["nowcast"]["value"] == 55
    assert document["index"] == 51


def test_eaqi_2024_traffic_station() -> None:
    # NO2 30 → band 3 (25–60); PM10 50 → band 3 (45–120)
    document = ok(
        "--scale", "eaqi-2024", "--station-type", "traffic", "--value", "no2:1h:30", "--value", "pm10:1h:50:ug/m3"
    )
    assert document["scale"] == "eaqi-2024"
    assert (document["index"], document["category"], document["colour"]) == (3, "Moderate", "#F0E641")
    assert document["responsible_pollutant"] == "no2"


def test_eaqi_2017_background_station() -> None:
    # PM2.5 24-h 30 → 4 (25–50); NO2 30 → 1 (≤ 40); O3 60 → 2 (50–100)
    document = ok("--scale", "eaqi-2017", "-v", "pm25:24h:30", "-v", "no2:1h:30", "-v", "o3:1h:60")
    assert (document["index"], document["category"], document["colour"]) == (4, "Poor", "#FF5050")
    assert [sub["index"] for sub in document["sub_indices"]] == [4, 1, 2]


def test_eaqi_incomplete_station_has_no_index() -> None:
    document = ok("--scale", "eaqi-2024", "--value", "pm25:1h:12")
    assert document["index"] is None
    assert "missing valid: no2, o3" in document["notes"][0]
    assert document["sub_indices"][0]["index"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give at least one --value or a --nowcast"),
        (["--value", "pm25:35.5"], "expected POLLUTANT:AVERAGING:VALUE[:UNIT]"),
        (["--value", "pm25:24h:35.5:ug/m3:extra"], "expected POLLUTANT:AVERAGING:VALUE[:UNIT]"),
        (["--value", "dust:24h:35.5"], "unknown pollutant 'dust'"),
        (["--value", "pm25:3h:35.5"], "unknown averaging period '3h'"),
        (["--value", "pm25:24h:abc"], "'abc' is not a number"),
        (["--value", "pm25:24h:-3"], "non-negative"),
        (["--value", "pm25:24h:nan"], "non-negative"),
        (["--value", "pm25:24h:1e30"], "too large to be a measurement"),
        (["--value", "pm25:24h:10:furlongs"], "unknown unit 'furlongs'"),
        (["--value", "pm25:24h:10:ppb"], "particulate matter"),
        (["--value", "pm25:1h:10"], "no 1h table for pm25"),
        (["--value", "pm25:24h:10", "--value", "pm25:24h:11"], "given twice"),
        (["--scale", "us-2018", "--value", "pm25:24h:10"], "unknown scale 'us-2018'"),
        (["--scale", "eaqi-2024", "--value", "pm25:24h:10"], "reads pm25 as 1h means"),
        (["--scale", "eaqi-2024", "--value", "co:1h:1"], "does not use co"),
        (["--station-type", "rural", "--value", "pm25:24h:10"], "unknown station type 'rural'"),
        (["--nowcast", "1,2,3"], "exactly 12 hourly values"),
        (["--nowcast", "1,2,x,4,5,6,7,8,9,10,11,12"], "'x' is not a number"),
        (["--nowcast", "1,2,-3,4,5,6,7,8,9,10,11,12"], "non-negative"),
        (["--nowcast", "1,2,3,4,5,6,7,8,9,10,11,12", "--nowcast-pollutant", "no2"], "pm25, pm10 and o3"),
        (["--nowcast", "1,2,3,4,5,6,7,8,9,10,11,12", "--nowcast-unit", "ppb"], "particulate matter"),
        (["--scale", "eaqi-2024", "--nowcast", "1,2,3,4,5,6,7,8,9,10,11,12"], "belongs to the US AQI"),
    ],
)
def test_bad_input_exits_2_with_a_message(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in plain(result.output)
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_help_names_the_syntax() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "POLLUTANT:AVERAGING" in plain(result.output)
