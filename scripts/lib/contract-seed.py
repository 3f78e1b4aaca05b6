#!/usr/bin/env python3
"""Seeds a running leadflow for the contract test and writes a schemathesis
configuration that draws path IDs from what it made, so that operations on
one resource are exercised past their 404 (a share of the cases still use
generated IDs and get 404).

Usage: contract-seed.py BASE USER_KEY WORKSPACE_ID OUT.toml MEMBER_EMAIL SPARES

SPARES objects are made for each kind of deletion (more than the cases
schemathesis runs for one operation, its coverage phase included): an ID
can be deleted once, after which its deletion answers 404.

Deletions get objects of their own, so that what they delete is never what
the other operations are offered: DELETE /v1/campaigns/{id}, /v1/leads/{id}
and /v1/workspaces/{id} draw from spare objects, and DELETE /v1/leads (which
can delete every lead) acts in a workspace of its own. The bootstrap
workspace, which every other request acts in, is never offered for
deletion.
"""
import json
import sys
import urllib.request

base, user_key, workspace, out, member = sys.argv[1:6]
spares = int(sys.argv[6])


def call(method, path, body=None, workspace_id=workspace):
    data = None if body is None else json.dumps(body).encode()
    headers = {"X-Api-Key": user_key, "X-Workspace-Id": workspace_id,
               "Content-Type": "application/json"}
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req) as r:
        return json.load(r)["data"]


def campaign(name, ws=workspace):
    return call("POST", "/v1/campaigns", {"name": name}, ws)["_id"]


def lead(email, ws=workspace):
    return call("POST", "/v1/leads", {"email": email}, ws)["_id"]


campaigns = [campaign(f"contract {i}") for i in range(4)]
spare_campaigns = [campaign(f"contract spare {i}") for i in range(spares)]
leads = [lead(f"contract{i}@example.com") for i in range(6)]
spare_leads = [lead(f"spare{i}@example.com") for i in range(spares)]
for c in campaigns:
    call("POST", f"/v1/campaigns/{c}/leads", {"leads": [{"leadId": lid} for lid in leads[:3]]})
# The campaign whose memberships PATCH /v1/campaigns/{id}/leads/{campaign_lead_id}
# is offered: no other operation gets it.
own = campaign("contract members")
call("POST", f"/v1/campaigns/{own}/leads",
     {"leads": [{"email": f"member{i}@example.com"} for i in range(6)]})
members = [m["_id"] for m in call("GET", f"/v1/campaigns/{own}/leads?limit=100")]
workspaces = [call("POST", "/v1/workspaces", {"name": f"contract {i}"})["_id"] for i in range(3)]
spare_workspaces = [call("POST", "/v1/workspaces", {"name": f"spare {i}"})["_id"]
                    for i in range(spares)]
# Workspaces with the member in them, for DELETE /v1/workspaces/{id}/members.
member_workspaces = [call("POST", "/v1/workspaces", {"name": f"members {i}"})["_id"]
                     for i in range(spares)]
for w in workspaces + member_workspaces:
    call("POST", f"/v1/workspaces/{w}/members", {"email": member})
sink = call("POST", "/v1/workspaces", {"name": "contract deletes"})["_id"]
for i in range(3):
    lead(f"sink{i}@example.com", sink)


def values(items):
    return "[" + ", ".join(f'"{v}"' for v in items) + "]"


def binding(dictionary, probability=0.8):
    return f'{{ dictionary = "{dictionary}", probability = {probability} }}'


def regex(path):
    # A TOML string of a regular expression that matches `path` exactly.
    return '"^' + path.replace("{", "\\\\{").replace("}", "\\\\}") + '$"'


dictionaries = {
    "campaigns": campaigns, "spare_campaigns": spare_campaigns, "leads": leads,
    "spare_leads": spare_leads, "own": [own], "members": members,
    "workspaces": [workspace] + workspaces, "spare_workspaces": spare_workspaces,
    "member_emails": [member], "member_workspaces": member_workspaces,
}
operations = [
    # (path, method or None for all, exclude method, parameters, workspace header)
    ("/v1/campaigns/{id}/leads/{campaign_lead_id}", None, None,
     {"path.id": binding("own", 1.0), "path.campaign_lead_id": binding("members")}, None),
    ("/v1/campaigns/{id}", "DELETE", None, {"path.id": binding("spare_campaigns")}, None),
    ("/v1/campaigns/{id}", None, "DELETE", {"path.id": binding("campaigns")}, None),
    *[(f"/v1/campaigns/{{id}}/{action}", None, None, {"path.id": binding("campaigns")}, None)
      for action in ["start", "pause", "resume", "complete", "archive", "leads", "leads/action"]],
    ("/v1/leads/{id}", "DELETE", None, {"path.id": binding("spare_leads")}, None),
    ("/v1/leads/{id}", None, "DELETE", {"path.id": binding("leads")}, None),
    ("/v1/leads", "DELETE", None, {}, sink),
    ("/v1/workspaces/{id}", "DELETE", None, {"path.id": binding("spare_workspaces")}, None),
    ("/v1/workspaces/{id}", None, "DELETE", {"path.id": binding("workspaces")}, None),
    ("/v1/workspaces/{id}/members", "DELETE", None,
     {"path.id": binding("member_workspaces"), "body.email": binding("member_emails", 1.0)}, None),
    ("/v1/workspaces/{id}/members", None, "DELETE",
     {"path.id": binding("workspaces"), "body.email": binding("member_emails", 1.0)}, None),
    *[(f"/v1/workspaces/{{id}}/{rest}", None, None, {"path.id": binding("workspaces")}, None)
      for rest in ["api-key", "api-key/rotate"]],
]

with open(out, "w") as f:
    f.write("# Written by scripts/lib/contract-seed.py for one run of the contract test.\n")
    f.write(f'headers = {{ "X-Api-Key" = "{user_key}", "X-Workspace-Id" = "{workspace}" }}\n\n')
    for name, items in dictionaries.items():
        f.write(f"[dictionaries.{name}]\nvalues = {values(items)}\n")
    for path, method, exclude, parameters, ws in operations:
        f.write(f"\n[[operations]]\ninclude-path-regex = {regex(path)}\n")
        if method:
            f.write(f'include-method = "{method}"\n')
        if exclude:
            f.write(f'exclude-method = "{exclude}"\n')
        if parameters:
            pairs = ", ".join(f'"{k}" = {v}' for k, v in parameters.items())
            f.write(f"parameters = {{ {pairs} }}\n")
        if ws:
            f.write(f'headers = {{ "X-Api-Key" = "{user_key}", "X-Workspace-Id" = "{ws}" }}\n')
print(f"seeded {len(campaigns) + len(spare_campaigns) + 1} campaigns, "
      f"{len(leads) + len(spare_leads)} leads, {len(members)} campaign leads, "
      f"{len(workspaces) + len(spare_workspaces) + len(member_workspaces) + 2} workspaces; "
      f"schemathesis configuration in {out}")
