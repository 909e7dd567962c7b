"""The city simulator: a seeded, living Bonn that talks to Urbis only through its public interfaces.

- ``geography`` — districts and streets of Bonn (real names, synthetic shapes), as GeoJSON and NGSI-LD;
- ``world`` — the devices placed on the map: lights in groups and cabinets, stations, bays, garages, gateways;
- ``lighting``, ``air_quality``, ``parking``, ``faults`` — pure behaviour models (seed and time in, measures out);
- ``engine`` — which device reports what and when, window by window;
- ``provision``, ``transport``, ``runner`` — setting the city up and sending its measures over HTTP or MQTT.

``city`` holds the older, static generator the broker benchmark still uses.  See ``docs/simulator.md``.
"""
