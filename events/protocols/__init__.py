"""Other ecosystems' ingestion protocols, each mapped to native events (SPEC §4.5)."""
