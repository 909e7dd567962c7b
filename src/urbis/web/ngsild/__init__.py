"""The NGSI-LD HTTP binding (ETSI GS CIM 009 clause 6) under ``/ngsi-ld/v1``."""
