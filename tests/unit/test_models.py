from datetime import UTC, datetime

from scanner.models import CheckResult, Severity, Status, Target, fingerprint, summarize


def test_fingerprint_is_stable_and_discriminates() -> None:
    t = Target(host="198.18.0.20", port=25, service="smtp")
    assert fingerprint("smtp.starttls_missing", t) == fingerprint("smtp.starttls_missing", t)
    # A re-identified service name must not change the identity of the finding.
    assert fingerprint("x.y", t) == fingerprint("x.y", Target(host="198.18.0.20", port=25, service="submission"))
    assert fingerprint("x.y", t) != fingerprint("x.y", Target(host="198.18.0.21", port=25))
    assert fingerprint("x.y", t, "share-a") != fingerprint("x.y", t, "share-b")
    assert fingerprint("x.y", t) != fingerprint("x.z", t)


def test_target_labels() -> None:
    assert Target(host="198.18.0.20", port=25, service="smtp").label() == "198.18.0.20:25/smtp"
    assert Target(domain="example-practice.com").label() == "example-practice.com"
    assert Target(host="198.18.0.5").label() == "198.18.0.5"
    assert Target(service="network").label() == "scanned network (passive listening)"


def test_summary_counts_open_gaps_by_severity() -> None:
    def result(status: Status, sev: Severity) -> CheckResult:
        t = Target(host="198.18.0.1")
        return CheckResult(check_id="a.b", status=status, severity=sev, title="title", target=t,
                           detail="d", fingerprint=fingerprint("a.b", t), started_at=datetime.now(UTC))

    summary = summarize([result(Status.FAIL, Severity.HIGH), result(Status.PASS, Severity.HIGH),
                         result(Status.ERROR, Severity.LOW), result(Status.FAIL, Severity.LOW)])
    assert summary.by_status == {"pass": 1, "fail": 2, "error": 1, "skipped": 0}
    assert summary.by_severity["high"] == 1 and summary.by_severity["low"] == 1
    assert summary.by_severity["critical"] == 0


def test_severity_rank_orders() -> None:
    ranks = [s.rank for s in (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)]
    assert ranks == sorted(ranks) and len(set(ranks)) == 5
