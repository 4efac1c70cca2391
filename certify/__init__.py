"""Vendor certification: one command, one reproducible certificate.

>>> from certify import certify
>>> cert = certify("vss", "http://127.0.0.1:9000")   # doctest: +SKIP
>>> cert.verdict                                    # doctest: +SKIP
'PASS'
"""

from certify._run_context import Options
from certify.certificate import EXIT_CODES, Certificate, check_document, grade, verify
from certify.requirements import REQUIREMENTS, Requirement, requirements_for
from certify.runner import CertifyError, certify

__all__ = ["EXIT_CODES", "REQUIREMENTS", "Certificate", "CertifyError", "Options", "Requirement", "certify",
           "check_document", "grade", "requirements_for", "verify"]
