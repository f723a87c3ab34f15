"""Tables of the history store (SQLAlchemy Core).

The Alembic migrations in ``scanner/history/migrations/versions`` create exactly these tables; a test
compares the two so that a change here without a migration is caught.

Times are stored as ISO-8601 UTC strings: exact round trips on every backend, and they sort.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

clients = Table(
    "clients", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(80), nullable=False, unique=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # 1, 2, ... per client: the order of the hash chain
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40), nullable=True),
    Column("stored_at", String(40), nullable=False),
    Column("profile", String(200), nullable=False),
    Column("complete", Integer, nullable=False),
    Column("scope_json", Text, nullable=False),
    Column("scan_json", Text, nullable=False),  # the canonical scan.json text, byte for byte
    Column("digest", String(64), nullable=False),  # sha256 of scan_json (UTF-8)
    Column("prev_digest", String(64), nullable=True),  # digest of the client's previous run
    Column("signature", String(128), nullable=True),  # Ed25519 (hex) over the run's chain body
    Column("key_fingerprint", String(64), nullable=True),
    Column("signature_scheme", String(20), nullable=True),  # "chain-v1"; "run-v1" for runs signed before 0003
    Column("timestamp_token", Text, nullable=True),  # RFC 3161 TimeStampResp (DER, base64) of the digest
    Column("chain_head", String(64), nullable=True),  # scanner.history.chain.run_head (set on every write)
    UniqueConstraint("client_id", "seq", name="uq_runs_client_seq"),
)

results = Table(
    "results", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_pk", Integer, ForeignKey("runs.id"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("check_id", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("host", String(255), nullable=True),
    Column("port", Integer, nullable=True),
    Column("domain", String(255), nullable=True),
    Column("result_json", Text, nullable=False),
    Index("ix_results_run_fingerprint", "run_pk", "fingerprint"),
    Index("ix_results_fingerprint", "fingerprint"),
)

decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("subject", String(200), nullable=False),  # a fingerprint or a check id
    Column("subject_kind", String(20), nullable=False),  # "fingerprint" or "check"
    Column("decision", String(40), nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("note", Text, nullable=True),
    Column("until", String(10), nullable=True),  # YYYY-MM-DD
    Column("decided_at", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("prev_digest", String(64), nullable=True),
    UniqueConstraint("client_id", "seq", name="uq_decisions_client_seq"),
)

signing_keys = Table(
    "signing_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("public_key", String(64), nullable=False),  # raw Ed25519 public key, hex
    Column("created_at", String(40), nullable=False),
)

key_rotations = Table(
    "key_rotations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("old_fingerprint", String(64), nullable=False),
    Column("old_public_key", String(64), nullable=False),
    Column("new_fingerprint", String(64), nullable=False),
    Column("new_public_key", String(64), nullable=False),
    Column("rotated_at", String(40), nullable=False),
    Column("old_signature", String(128), nullable=False),  # both keys sign signing.rotation_message
    Column("new_signature", String(128), nullable=False),
)

interview_answers = Table(
    "interview_answers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # 1, 2, ... per client: the order of the hash chain
    Column("key_activity", String(40), nullable=False),  # NIST SP 800-66r2 key activity, "164.308(a)(1)-2"
    Column("answer", String(20), nullable=False),  # in-place | partly | not-in-place | not-applicable
    Column("answered_by", String(200), nullable=False),
    Column("notes", Text, nullable=True),
    Column("evidence_ref", String(500), nullable=True),  # a document's name, never its content
    Column("source", String(300), nullable=False),  # "web" or "import: FILE"
    Column("answered_at", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("prev_digest", String(64), nullable=True),
    UniqueConstraint("client_id", "seq", name="uq_interview_answers_client_seq"),
)

signoffs = Table(
    "signoffs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("run_id", String(80), nullable=False),
    Column("scan_digest", String(64), nullable=False),  # sha256 of the run's scan.json
    Column("signer_name", String(200), nullable=False),
    Column("signer_role", String(200), nullable=False),
    Column("signature_kind", String(10), nullable=False),  # drawn | typed
    Column("signature_png", LargeBinary, nullable=True),
    Column("statement", Text, nullable=False),  # what signing means, as shown to the signer
    Column("sheet_json", Text, nullable=False),  # every row as decided (canonical JSON)
    Column("decision_digests", Text, nullable=False),  # JSON list: the decisions this sign-off recorded
    Column("signed_at", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("prev_digest", String(64), nullable=True),
    Column("record_pdf", LargeBinary, nullable=True),  # the sealed decision record (it carries the digest)
    UniqueConstraint("client_id", "seq", name="uq_signoffs_client_seq"),
)

# -- fleet mode (issue 19, migration 0005) ------------------------------------------------------

fleet_clients = Table(
    "fleet_clients", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False, unique=True),
    Column("cadence_days", Integer, nullable=False),  # 30: monthly; overdue past it or 182 days
    Column("created_at", String(40), nullable=False),
)

fleet_sites = Table(
    "fleet_sites", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),  # the broker user and queue carry it
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("sensor_public_key", String(64), nullable=False),  # raw Ed25519, hex: bundles are checked with it
    Column("sensor_fingerprint", String(64), nullable=False),
    Column("profile", String(200), nullable=False),
    Column("scope_json", Text, nullable=False),  # {"targets": [...], "exclusions": [...], "domains": [...]}
    Column("created_at", String(40), nullable=False),
    Column("last_heartbeat_at", String(40), nullable=True),
    Column("last_heartbeat_json", Text, nullable=True),
)

fleet_jobs = Table(
    "fleet_jobs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(80), nullable=False, unique=True),
    Column("run_id", String(80), nullable=False, unique=True),  # the run the sensor must report: idempotency key
    Column("site_id", Integer, ForeignKey("fleet_sites.id"), nullable=False),
    Column("profile", String(200), nullable=False),
    Column("scope_json", Text, nullable=False),
    Column("state", String(20), nullable=False),  # queued | stored | refused
    Column("detail", Text, nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

fleet_events = Table(
    "fleet_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("site", String(64), nullable=True),  # as claimed by the message: not trusted
    Column("kind", String(40), nullable=False),  # scanner.history.fleet.EventKind
    Column("job_id", String(80), nullable=True),
    Column("detail", Text, nullable=False),
    Index("ix_fleet_events_at", "at"),
)
