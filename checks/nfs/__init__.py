"""NFS checks: exports visible over the MOUNT protocol (issue 5)."""
