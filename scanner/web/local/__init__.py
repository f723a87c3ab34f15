"""The local area: pages the technician opens on site (interview worksheets, the owner's sign-off)."""
