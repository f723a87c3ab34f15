"""FTP checks: anonymous logon (issue 5)."""
