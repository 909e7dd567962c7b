"""The categories a city starts with (staff change them in the console), as data.

Between them they ask every one of Open311's six datatypes, and two name the assets a report may
concern: a street light (``Streetlight``) and a parking bay (``ParkingSpot``, ``OnStreetParking``),
so a report of a dark lamp joins the fault the lamp reported about itself.
"""

from __future__ import annotations

from urbis.citizens.model import Category, Choice, Datatype, Question
from urbis.solutions.lighting.const import STREETLIGHT
from urbis.solutions.parking.const import ON_STREET_PARKING, PARKING_SPOT

EMERGENCY = Question(
    code="emergency",
    datatype=Datatype.TEXT,
    description="Danger to people (a fallen pole, exposed wires)? Call 112 now instead of reporting here.",
    variable=False,
    order=1,
)

DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category(
        code="streetlight",
        name="Street light not working",
        description="A street light that is dark, flickers, or burns by day.",
        group="lighting",
        department="Street lighting",
        keywords=("lamp", "light", "dark", "lighting"),
        object_types=(STREETLIGHT,),
        position=1,
        questions=(
            EMERGENCY,
            Question(
                code="fault",
                datatype=Datatype.SINGLEVALUELIST,
                description="What is wrong with the light?",
                required=True,
                order=2,
                values=(
                    Choice("dark", "It is dark at night"),
                    Choice("flickering", "It flickers"),
                    Choice("day-burning", "It is on during the day"),
                    Choice("damaged", "The pole or lantern is damaged"),
                ),
            ),
            Question(
                code="pole_number",
                datatype=Datatype.STRING,
                description="The number on the pole, if you can read it.",
                order=3,
                datatype_description="Printed on a plate about 2 m up the pole.",
            ),
            Question(
                code="noticed_at",
                datatype=Datatype.DATETIME,
                description="When did you notice it?",
                order=4,
            ),
        ),
    ),
    Category(
        code="parking-bay",
        name="Parking bay blocked or sensor wrong",
        description="A parking bay blocked by rubbish, works or a wrongly parked vehicle, or shown wrongly as free or taken.",
        group="parking",
        department="Parking management",
        keywords=("parking", "bay", "blocked", "sensor"),
        object_types=(PARKING_SPOT, ON_STREET_PARKING),
        position=2,
        questions=(
            Question(
                code="problem",
                datatype=Datatype.SINGLEVALUELIST,
                description="What is the problem?",
                required=True,
                order=1,
                values=(
                    Choice("blocked", "The bay is blocked"),
                    Choice("shown-free", "The app shows it free but it is taken"),
                    Choice("shown-taken", "The app shows it taken but it is free"),
                    Choice("sign", "Signs or markings are missing"),
                ),
            ),
            Question(
                code="bays",
                datatype=Datatype.NUMBER,
                description="How many bays are affected?",
                order=2,
                datatype_description="A whole number, 1 or more.",
            ),
        ),
    ),
    Category(
        code="air-quality",
        name="Air pollution or smell",
        description="Smoke, dust, a bad smell or burning you can see or smell.",
        group="environment",
        department="Environment office",
        keywords=("air", "smell", "smoke", "dust", "pollution"),
        position=3,
        questions=(
            Question(
                code="kind",
                datatype=Datatype.MULTIVALUELIST,
                description="What do you notice? (choose all that apply)",
                required=True,
                order=1,
                values=(
                    Choice("smoke", "Smoke"),
                    Choice("dust", "Dust"),
                    Choice("smell", "A bad smell"),
                    Choice("burning", "Something burning"),
                ),
            ),
            Question(
                code="details",
                datatype=Datatype.TEXT,
                description="Where does it come from, and since when?",
                order=2,
            ),
        ),
    ),
    Category(
        code="pothole",
        name="Pothole or damaged road",
        description="A pothole, a broken kerb or a damaged pavement.",
        group="roads",
        department="Roads and highways",
        keywords=("road", "pothole", "pavement", "kerb"),
        position=4,
        questions=(
            EMERGENCY,
            Question(
                code="where",
                datatype=Datatype.SINGLEVALUELIST,
                description="Where is the damage?",
                required=True,
                order=2,
                values=(
                    Choice("road", "On the road"),
                    Choice("pavement", "On the pavement"),
                    Choice("cycle", "On a cycle path"),
                ),
            ),
            Question(
                code="size_cm",
                datatype=Datatype.NUMBER,
                description="About how wide is it, in centimetres?",
                order=3,
            ),
        ),
    ),
    Category(
        code="litter",
        name="Litter or fly-tipping",
        description="Rubbish left in a public place, or an overflowing bin.",
        group="sanitation",
        department="Waste services",
        keywords=("rubbish", "litter", "bin", "dumping"),
        position=5,
    ),
    Category(
        code="graffiti",
        name="Graffiti",
        description="Graffiti on public property.",
        group="sanitation",
        department="Waste services",
        keywords=("graffiti", "vandalism"),
        position=6,
        questions=(
            Question(
                code="offensive",
                datatype=Datatype.SINGLEVALUELIST,
                description="Is it offensive?",
                order=1,
                values=(Choice("yes", "Yes"), Choice("no", "No")),
            ),
        ),
    ),
)
