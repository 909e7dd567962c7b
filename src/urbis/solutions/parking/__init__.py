"""Smart parking: occupancy, guidance, forecast, SFpark pricing, sessions."""
