"""Live sessions: the student stream and teacher dashboard consumers, the per-session hub, the inference pool.

Modules: `consumers` (WebSocket endpoints and their close codes), `hub` (per-process, per-session fan-in/fan-out
over the channel layer), `pipeline` (the inference executor), `store` (every database call the live path makes),
`receivers` (session start/end signals to the channel layer). The aggregation rules are in `analytics.live`.
"""
