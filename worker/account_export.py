"""The account-level part of a job: licences, projects and licence members (the last
read by the planner, worker/plan.py, which skips a licence that refuses them)."""

from __future__ import annotations

from jobs.request import ExportRequest
from revizto.client import ReviztoClient
from worker.plan import ExportPlan
from worker.unit_output import UnitOutput


def export_account(
    client: ReviztoClient, request: ExportRequest, plan: ExportPlan, output: UnitOutput
) -> None:
    """Write the account files an earlier delivery did not already commit."""
    output.sweep_partials()
    if request.wants("licenses") and not output.done(output.name("licenses")):
        output.write_all("licenses", plan.all_licenses)
    if request.wants("projects") and not output.done(output.name("projects")):
        output.write_all("projects", plan.project_records)
    if request.wants("members"):
        for license_ in plan.licenses:
            license_uuid = str(license_["uuid"])
            name = output.name("members", scope_uuid=license_uuid, file_resource="license_members")
            if output.done(name):
                continue
            # Read while planning, so that a licence refusing it was skipped there.
            team = plan.license_teams.get(license_uuid)
            output.write_all(
                "members",
                client.license_team(license_uuid) if team is None else team,
                scope_uuid=license_uuid,
                file_resource="license_members",
                progress_key=f"members|license:{license_uuid}",
            )
            output.run.check()
