"""PostHog's capture, flags and remote-config endpoints (SPEC §4.5): its SDKs work here by changing only their host."""
