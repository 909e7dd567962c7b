"""Pure query logic: the NGSI-LD query language, type selection and geo-queries."""
