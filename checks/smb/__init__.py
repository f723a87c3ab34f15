"""SMB checks: signing, SMBv1, null/guest sessions and open shares (issue 5)."""
