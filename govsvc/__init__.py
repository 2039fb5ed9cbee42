"""govsvc: govern service outages and leave regulator-ready evidence at every step."""
