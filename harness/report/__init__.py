"""Results of a conformance run: the JSON conformance report, waiver files, Allure extras, progress.

* ``outcomes`` — pure logic: one test's phases → its outcome, tests → one outcome per requirement;
* ``verdict`` — pure logic: report → conformant or not → exit code of ``se-conformance run``;
* ``document`` — the JSON report document and its schema (fixtures/schemas/conformance-report.schema.json);
* ``plugin`` — the pytest plugin that records outcomes (on the xdist controller) and writes the files;
* ``waivers`` — ``--se-waivers FILE`` (the profile's ``[[waivers]]`` format);
* ``allure`` — ``environment.properties``, ``categories.json`` and the offline HTML (Allure 3);
* ``progress`` — the JSON-lines progress file the command line follows while pytest runs.
"""
