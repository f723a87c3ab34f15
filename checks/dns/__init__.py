"""Domain checks: SPF, DMARC, DKIM, MTA-STS, TLS-RPT, DNSSEC (one DNS probe per --domain)."""
