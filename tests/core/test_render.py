"""Renderers are pure: a plan (or apply outcomes) in, text, Markdown or JSON out."""

from __future__ import annotations

import json

from reconciler.core import render, render_outcomes
from reconciler.core.outcome import Outcome, Status
from reconciler.core.plan import FieldChange, LeafChange, MembershipChange, Plan, PlanError

MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"


def change(membership_id: str = MID) -> MembershipChange:
    fields = (
        FieldChange("queryLogStatus", "DISABLED", "ENABLED"),
        FieldChange(
            "defaultJobResultConfiguration",
            {"outputConfiguration": {"s3": {"bucket": "old"}}},
            {"outputConfiguration": {"s3": {"bucket": "new"}}},
            (LeafChange("outputConfiguration.s3.bucket", "old", "new"),),
        ),
    )
    return MembershipChange(
        membership_id, "d/a.yaml", "us-east-1", fields, "sha256:x", "0" * 64, "acme", accountId="111122223333"
    )


def test_text_shows_each_field_and_leaf_and_the_summary() -> None:
    out = render.text(Plan.build([change()]))
    assert out.splitlines() == [
        f"~ membership {MID} acme (d/a.yaml, 111122223333/us-east-1)",
        '    ~ queryLogStatus: "DISABLED" -> "ENABLED"',
        "    ~ defaultJobResultConfiguration:",
        '        ~ outputConfiguration.s3.bucket: "old" -> "new"',
        "",
        "Plan: 1 membership, 1 to change, 0 unchanged.",
    ]


def test_drift_words_and_styles_apply() -> None:
    out = render.text(Plan.build([]), lambda text, colour: f"<{colour}>{text}", render.DRIFT)
    assert out == "No drift. Live settings match the desired state.\nDrift: 0 memberships, 0 drifted, 0 in sync.\n"
    styled = render.text(Plan.build([change()]), lambda text, colour: f"<{colour}>{text}")
    assert styled.startswith(f"<yellow>~ membership {MID}")


def test_markdown_has_a_title_table_and_details_with_links() -> None:
    out = render.markdown(Plan.build([change()]), lambda path: f"https://example.test/{path}")
    lines = out.splitlines()
    assert lines[0] == "### Clean Rooms plan: 1 to change, 0 unchanged (1 membership)"
    assert (
        lines[2]
        == f"Changes hash: `{Plan.build([change()]).changes_hash()[:19]}` (apply `--expect-changes-hash` checks it)"
    )
    assert lines[4] == "| membership | collaboration | file | account/region | fields |"
    assert lines[6] == (
        f"| `{MID}` | acme | [<code>d/a.yaml</code>](https://example.test/d/a.yaml) | 111122223333/us-east-1 "
        "| `queryLogStatus`, `defaultJobResultConfiguration` |"
    )
    assert "```diff" in lines and "</details>" in lines


def test_markdown_lists_errors_first() -> None:
    plan = Plan.build([], [PlanError(MID, "d/a.yaml", "status is REMOVED", "PlanCheck")])
    out = render.markdown(plan)
    assert "**Errors** (nothing will be applied until these are fixed):" in out
    assert f"- :x: `{MID}` in <code>d/a.yaml</code>: status is REMOVED" in out


def test_json_is_the_contract_shape() -> None:
    document = json.loads(render.render(Plan.build([change()]), "json"))
    assert document["formatVersion"] == 1
    assert document["summary"] == {"memberships": 1, "toChange": 1, "unchanged": 0}
    assert document["changes"][0]["fields"]["queryLogStatus"] == {
        "before": "DISABLED",
        "after": "ENABLED",
        "origin": "file",
    }


def test_apply_outcomes_in_text_and_markdown() -> None:
    outcomes = [
        Outcome(change(), Status.APPLIED, ("queryLogStatus",), 1),
        Outcome(change("00000000-0000-4000-8000-000000000001"), Status.NOT_STARTED),
    ]
    text = render_outcomes.outcomes_text(outcomes)
    assert text.splitlines() == [
        "not started: 00000000-0000-4000-8000-000000000001 (d/a.yaml, us-east-1)",
        f"applied: {MID} (d/a.yaml, us-east-1) fields queryLogStatus",
        "Apply: 1 applied, 0 already converged, 0 failed, 1 not started.",
    ]
    markdown = render_outcomes.outcomes_markdown(outcomes)
    assert markdown.splitlines()[0] == "#### Apply result"
    assert f"- :white_check_mark: applied: {MID} (d/a.yaml, us-east-1) fields queryLogStatus" in markdown
    assert "- :x: not started: 00000000-0000-4000-8000-000000000001" in markdown


HOSTILE = "Acme | Retail </details> **@octocat** <img src=x> [x](https://evil.test) ![i](https://evil.test/i.png)"


def test_untrusted_text_cannot_reshape_the_markdown() -> None:
    hostile = MembershipChange(
        MID, "d/a|b.yaml", "us-east-1", (FieldChange("queryLogStatus", "DISABLED", "ENABLED"),), "x", "0", HOSTILE
    )
    errors = [PlanError("00000000-0000-4000-8000-000000000001", "d/c.yaml", f"guard is 'x' but it is {HOSTILE!r}")]
    out = render.markdown(Plan.build([hostile], errors), lambda path: f"https://github.test/blob/{path}")
    [row] = [line for line in out.splitlines() if line.startswith(f"| `{MID}`")]
    assert row.replace("\\|", "").count("|") == 6  # five columns, as the header has
    assert out.count("</details>") == 1 and out.count("<details>") == 1
    for forbidden in ("<img", "@octocat", "**@", "](https://evil", "![", "|b.yaml"):
        assert forbidden not in out, forbidden
    assert "@&#8203;octocat" in out  # shown, but not a mention


def test_apply_outcomes_in_markdown_are_inert() -> None:
    failed = Outcome(change(), Status.FAILED, message=f"service said: {HOSTILE}")
    out = render_outcomes.outcomes_markdown([failed])
    for forbidden in ("<img", "@octocat", "**@", "](https://evil", "</details>"):
        assert forbidden not in out, forbidden


def test_memberships_the_service_throttled_to_their_deadline_are_one_line() -> None:
    throttled = [
        PlanError(f"m{i}", f"d/m{i}.yaml", "cannot be read: Rate exceeded", "ThrottlingException") for i in range(5)
    ]
    other = PlanError("x", "d/x.yaml", "not found in us-east-1", "ResourceNotFoundException")
    text = render.text(Plan((), (*throttled, other)))
    assert [line for line in text.splitlines() if line.startswith("!")] == [
        "! d/x.yaml: membership x: not found in us-east-1",
        "! 5 memberships cannot be read: the service throttled every try (ThrottlingException) until the call's "
        "--retry-deadline (d/m0.yaml, d/m1.yaml, d/m2.yaml and 2 more)",
    ]
    assert text.rstrip().endswith("6 error(s).")
    # One throttled membership is said as any other error; JSON always lists each.
    assert "! d/m0.yaml: membership m0: cannot be read: Rate exceeded" in render.text(Plan((), (throttled[0],)))
    assert len(json.loads(render.render(Plan((), (*throttled, other)), "json"))["errors"]) == 6


def test_a_join_reads_as_one_in_text_and_markdown_and_its_outside_names_stay_inert() -> None:
    from reconciler.core.invitation import Invitation
    from reconciler.core.plan import FieldChange, MembershipChange, Plan

    invitation = Invitation(
        "0b7e4c1a-1111-4222-8333-444455556666",
        "Retail </details> **x**",
        "999988887777",
        "Globex\n~ membership",
        "us-east-1",
    )
    join = MembershipChange(
        "",
        "d/join.yaml",
        "us-east-1",
        (FieldChange("queryLogStatus", None, "ENABLED"),),
        "f",
        "0" * 64,
        collaborationName=invitation.collaborationName,
        accountId="111122223333",
        join=invitation,
    )
    plan = Plan.build([join])
    text = render.text(plan)
    assert text.splitlines()[:2] == [
        "+ join collaboration Retail </details> **x** (invited by Globex\\n~ membership, account 999988887777) "
        "(d/join.yaml, 111122223333/us-east-1)",
        '    + queryLogStatus: "ENABLED"',
    ]
    markdown = render.markdown(plan)
    assert "</details> **x**" not in markdown and "Globex\n~" not in markdown
    assert "| `join` | Retail &#60;/details&#62; &#42;&#42;x&#42;&#42; (invited by Globex" in markdown
