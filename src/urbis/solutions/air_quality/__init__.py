"""Air quality: indices (US AQI 2024, NowCast, EAQI), quality control, means, alerts, forecast."""
