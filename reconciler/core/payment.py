"""Who pays: the collaboration's creator designates payers, a member can only accept that. Pure: no AWS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PAYMENTS = {
    ("queryCompute",): "query compute",
    ("jobCompute",): "job compute",
    ("machineLearning", "modelTraining"): "model training",
    ("machineLearning", "modelInference"): "model inference",
    ("machineLearning", "syntheticDataGeneration"): "synthetic data generation",
}


def payment_problems(managed: Mapping[str, Any] | None, designated: Mapping[str, Any], account: str) -> list[str]:
    """A managed isResponsible must accept what the collaboration's creator designated: the service refuses
    `false` from a designated payer and `true` from anyone else."""
    if managed is None:
        return []
    problems = []
    for path, kind in PAYMENTS.items():
        wanted = dig(managed, path)
        if wanted is None:
            continue
        payer = designated_payer(designated, path)
        if wanted["isResponsible"] != payer:
            field_path = ".".join(("membershipPaymentConfiguration", *path, "isResponsible"))
            who = "designated" if payer else "did not designate"
            problems.append(
                f"{field_path} is {str(wanted['isResponsible']).lower()}, but the collaboration's creator {who} "
                f"this member (account {account}) to pay for {kind}: the creator designates payers, a "
                "member can only accept that, and changing the payer is a change request to the collaboration "
                "that its members approve"
            )
    return problems


def designated_payer(designated: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    return bool((dig(designated, path) or {}).get("isResponsible", False))


def dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value
