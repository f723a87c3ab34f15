"""Consumer cloud-sync clients heard on the wire (issue 7): Syncthing, Dropbox LAN sync."""
