"""Organisation: business units, services and their SLAs, teams, people and machine principals."""
