"""Device ingestion: devices, their credentials and mappings, MQTT and HTTP payloads, the dead-letter store.

Ingestion knows devices and protocols, not NGSI-LD: it turns payloads into
:class:`~urbis.ingestion.messages.DeviceReadings` and hands them to a
:class:`~urbis.ingestion.messages.ReadingSink` (the context service, wired in
``app.py``), which stores them durably before anything is acknowledged.
"""
