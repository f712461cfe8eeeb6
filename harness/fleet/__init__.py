"""Fleets: several deployed SEs verified together (``se-conformance run --fleet FILE``, docs/fleet.md).

``spec`` parses the fleet file, ``toml_out`` writes one, ``children`` runs one ``se-conformance run``
per SE, ``checks`` holds the cross-SE rules the suite's ``suites/fleet`` tests apply, ``results`` reads
their outcomes and combines the exit codes, ``summary`` prints the SE-by-area table.
"""
