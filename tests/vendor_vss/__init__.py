"""An independent implementation of the VSS agency from ``fakes/CONTRACT.md`` (issue 10, deliverable 5).

Start it with ``python -m tests.vendor_vss --scenario FILE --port P --upstream URL --db FILE``;
see README.md.
"""
