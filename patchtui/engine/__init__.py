"""The engine: events, rollout and runners. Never imports Textual."""
