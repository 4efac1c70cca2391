"""Phase (a), contract: schemathesis over our OpenAPI (placeholder until written)."""
from certify._context import Check

__all__ = ["CHECKS"]
CHECKS: dict[str, Check] = {}
