"""The Windows endpoint collector: remote registry (MS-RRP) and WMI over DCOM, through impacket.

``parse`` (pure: recorded values -> inventory sections) is split from ``collect`` (the I/O) so
every parser is unit-tested on recorded values and the plumbing against a live server.
"""
