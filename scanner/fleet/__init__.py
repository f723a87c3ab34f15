"""Fleet mode (issue 19): site sensors and the MSP's centre on Celery + RabbitMQ.

A sensor at each practice consumes its own job queue over TLS (it connects out; nothing connects
into a practice), scans in-process, signs the result bundle with its Ed25519 key and publishes it
to the result exchange; the centre's ingest worker verifies it and stores it in the PostgreSQL
history store. The centre's scheduler publishes jobs when a client's cadence is due. See docs/fleet.md.

Beside ``scanner.web`` and below ``scanner.cli``: composes the engine and the history store,
never imports the web app, the CLI or the report renderers.
"""
