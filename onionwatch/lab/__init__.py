"""The lab: a private Tor network on 127.0.0.1 and simulated onion markets (tests and demo)."""
