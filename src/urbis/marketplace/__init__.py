"""The data marketplace: a catalogue of city data shared under the city's own policies, enforced on every request.

Datasets are views over the context and the solutions' outputs, published as DCAT-AP and through a
CKAN-compatible API; offers are ODRL 2.2 policies evaluated by Urbis's own evaluator; agreements
follow the Dataspace Protocol; every access is enforced and written to a hash-chained audit log.
"""
