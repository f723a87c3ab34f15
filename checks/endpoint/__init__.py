"""Credentialed endpoint checks (issue 8): disk encryption, screen lock, firewall, anti-malware,
operating-system support and installed sync clients, collected over SSH or SMB/RPC."""
