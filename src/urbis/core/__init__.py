"""Cross-cutting foundations: settings, storage engine, events, errors, accounts."""
