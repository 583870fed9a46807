"""The live pipeline, one Django app above `classes` and `analytics`: the student stream and teacher dashboard
consumers, the per-session hub, the inference pool, and the pages that open them.

Modules: `consumers` (WebSocket endpoints and their close codes), `hub` (per-process, per-session fan-in/fan-out
over the channel layer), `aggregation` (per-student state, the class view and alerts: pure Python, no I/O),
`pipeline` (the inference executor), `store` (every database call the live path makes), `receivers` (session
start/end signals to the channel layer, connected in `LiveConfig.ready()`), `views`/`urls` (join and dashboard
pages). Nothing below this package (`classes`, the rest of `analytics`, `inference`) imports it.
"""
