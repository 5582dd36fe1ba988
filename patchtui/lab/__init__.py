"""The lab: a fleet of simulated hosts behind a real asyncssh server on loopback."""
