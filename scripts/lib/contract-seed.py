#!/usr/bin/env python3
"""Seeds a running leadflow for the contract test and writes a schemathesis
configuration that draws path IDs from what it made, so that operations on
one resource are exercised past their 404 (a share of the cases still use
generated IDs and get 404).

Usage: contract-seed.py BASE USER_KEY WORKSPACE_ID OUT.toml MEMBER_EMAIL SPARES DELETER_KEY ROTATOR_KEY

SPARES objects are made for each kind of deletion (more than the cases
schemathesis runs for one operation, its coverage phase included): an ID
can be deleted once, after which its deletion answers 404.

Deletions get objects of their own, so that what they delete is never what
the other operations are offered: DELETE /v1/campaigns/{id}, /v1/leads/{id}
and /v1/workspaces/{id} draw from spare objects, and DELETE /v1/leads (which
can delete every lead) acts in a workspace of its own. DELETE
/v1/workspaces/{id} is sent with another user's key (DELETER_KEY), who owns
only the spare workspaces: schemathesis also offers IDs it saw in answers,
and the bootstrap workspace must not be deleted halfway through the run. The bootstrap
workspace, which every other request acts in, is never offered for
deletion.
"""
import json
import sys
import time
import urllib.request

base, user_key, workspace, out, member = sys.argv[1:6]
spares = int(sys.argv[6])
deleter_key = sys.argv[7]
# POST /v1/account/api-key/rotate replaces the key it is sent with: it gets
# a user of its own.
rotator_key = sys.argv[8]


def call(method, path, body=None, workspace_id=workspace, key=user_key):
    data = None if body is None else json.dumps(body).encode()
    headers = {"X-Api-Key": key, "X-Workspace-Id": workspace_id,
               "Content-Type": "application/json"}
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req) as r:
        return json.load(r)["data"]


def campaign(name, ws=workspace):
    return call("POST", "/v1/campaigns", {"name": name}, ws)["_id"]


def lead(email, ws=workspace):
    return call("POST", "/v1/leads", {"email": email}, ws)["_id"]


campaigns = [campaign(f"contract {i}") for i in range(4)]
# Campaigns of their own for the actions that end a campaign, so that the
# others are not left archived for the rest of the run: active ones to
# complete, drafts to archive.
completing = [campaign(f"contract completing {i}") for i in range(spares)]
for c in completing:
    call("POST", f"/v1/campaigns/{c}/start")
archiving = [campaign(f"contract archiving {i}") for i in range(spares)]
# And paused ones to resume (a draft or active campaign cannot be resumed).
resuming = [campaign(f"contract resuming {i}") for i in range(spares)]
for c in resuming:
    call("POST", f"/v1/campaigns/{c}/start")
    call("POST", f"/v1/campaigns/{c}/pause")
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
spare_workspaces = [call("POST", "/v1/workspaces", {"name": f"spare {i}"}, key=deleter_key)["_id"]
                    for i in range(spares)]
# Workspaces with a key to revoke, for DELETE /v1/workspaces/{id}/api-key.
keyed_workspaces = [call("POST", "/v1/workspaces", {"name": f"keyed {i}"})["_id"]
                    for i in range(spares)]
for w in keyed_workspaces:
    call("POST", f"/v1/workspaces/{w}/api-key")
# Workspaces with the member in them, for DELETE /v1/workspaces/{id}/members.
member_workspaces = [call("POST", "/v1/workspaces", {"name": f"members {i}"})["_id"]
                     for i in range(spares)]
for w in workspaces + member_workspaces:
    call("POST", f"/v1/workspaces/{w}/members", {"email": member})
sink = call("POST", "/v1/workspaces", {"name": "contract deletes"})["_id"]
# Webhooks to a port nobody listens on: their deliveries fail and wait for
# a retry, so that resend has deliveries to send again. Spares to delete.
HOOK_URL = "http://127.0.0.1:9/hook"
# (Only the first receives every event; the others few or none, so that
# the worker's retries stay a small load beside the run.)
webhooks = [call("POST", "/v1/webhooks", {"url": HOOK_URL, "events": events})["_id"]
            for events in [None, ["dnc.added"], ["job.finished"]]]
spare_webhooks = [call("POST", "/v1/webhooks", {"url": HOOK_URL, "enabled": False})["_id"]
                  for _ in range(spares)]
redelivered = webhooks[0]
lead("webhook-event@example.com")
deliveries = []
for _ in range(100):
    deliveries = [d["_id"] for d in call("GET", f"/v1/webhooks/{redelivered}/deliveries")]
    if deliveries:
        break
    time.sleep(0.1)
if not deliveries:
    sys.exit("error: the seeded webhook got no delivery")
# Background jobs, for GET and DELETE /v1/jobs/{id} (they finish at once:
# a cancel answers 409, a read 200).
jobs = [call("POST", f"/v1/campaigns/{campaigns[0]}/leads", {"selectAll": True, "async": True})["jobId"]
        for _ in range(3)]
for i in range(3):
    lead(f"sink{i}@example.com", sink)


def headers(ws, key=user_key):
    return (f'headers = {{ "X-Api-Key" = "{key}", "Authorization" = "Bearer {key}", '
            f'"X-Workspace-Id" = "{ws}" }}')


def values(items):
    return "[" + ", ".join(f'"{v}"' for v in items) + "]"


def binding(dictionary, probability=0.8):
    return f'{{ dictionary = "{dictionary}", probability = {probability} }}'


def regex(path):
    # A TOML string of a regular expression that matches `path` exactly.
    return '"^' + path.replace("{", "\\\\{").replace("}", "\\\\}") + '$"'


dictionaries = {
    "campaigns": campaigns, "completing": completing, "archiving": archiving,
    "resuming": resuming, "spare_campaigns": spare_campaigns, "leads": leads,
    "spare_leads": spare_leads, "own": [own], "members": members,
    "workspaces": [workspace] + workspaces, "spare_workspaces": spare_workspaces,
    "member_emails": [member], "member_workspaces": member_workspaces,
    "keyed_workspaces": keyed_workspaces,
    "webhooks": webhooks, "spare_webhooks": spare_webhooks, "redelivered": [redelivered],
    "deliveries": deliveries, "jobs": jobs,
    # CSV files and mappings for POST /v1/leads/import/csv (a generated
    # file is bytes, rarely a CSV with an email column).
    "csv_files": ["email,Name\\ncsv1@example.com,Ann\\n",
                  "Email;Company\\ncsv2@example.com;Acme\\ncsv3@example.com;Initech\\n"],
    "csv_mappings": ['{\\"email\\": \\"email\\"}', '{\\"Name\\": \\"firstName\\"}'],
    # Do-not-contact files for POST /v1/dnc/import.
    "dnc_files": ["email\\ndnc1@example.com\\nspam.example\\n", "dnc2@example.com\\n"],
}
operations = [
    # (path, method or None for all, exclude method, parameters, headers)
    ("/v1/campaigns/{id}/leads/{campaign_lead_id}", None, None,
     {"path.id": binding("own", 1.0), "path.campaign_lead_id": binding("members")}, None),
    # Deletions only ever get spares (probability 1.0): a deleted seeded
    # campaign made the operations bound to it answer 404 for the rest of a
    # run (seen as "missing test data" on pause, then on move).
    ("/v1/campaigns/{id}", "DELETE", None, {"path.id": binding("spare_campaigns", 1.0)}, None),
    ("/v1/campaigns/{id}", None, "DELETE", {"path.id": binding("campaigns")}, None),
    *[(f"/v1/campaigns/{{id}}/{action}", None, None, {"path.id": binding("campaigns")}, None)
      for action in ["start", "leads", "leads/action"]],
    # (Pause answers 409 to most seeded campaigns, which are drafts: with a
    # share of generated IDs too, some runs saw only 404s and 409s in a
    # phase and failed on missing test data. Its 404 is tested in tests/.)
    ("/v1/campaigns/{id}/pause", None, None, {"path.id": binding("campaigns", 1.0)}, None),
    ("/v1/campaigns/{id}/leads/move", "POST", None,
     {"path.id": binding("campaigns", 1.0), "body.toCampaignId": binding("campaigns", 1.0)}, None),
    ("/v1/campaigns/{id}/resume", None, None, {"path.id": binding("resuming")}, None),
    ("/v1/campaigns/{id}/complete", None, None, {"path.id": binding("completing")}, None),
    ("/v1/campaigns/{id}/archive", None, None, {"path.id": binding("archiving")}, None),
    ("/v1/leads/{id}", "DELETE", None, {"path.id": binding("spare_leads", 1.0)}, None),
    ("/v1/leads/{id}", None, "DELETE", {"path.id": binding("leads")}, None),
    ("/v1/leads/{id}/campaigns", None, None, {"path.id": binding("leads")}, None),
    ("/v1/leads", "DELETE", None, {}, headers(sink)),
    ("/v1/account/api-key/rotate", "POST", None, {}, headers(workspace, rotator_key)),
    ("/v1/leads/import/csv", "POST", None,
     {"body.file": binding("csv_files"), "body.mapping": binding("csv_mappings", 0.5),
      "body.campaignId": binding("campaigns", 0.5)}, None),
    ("/v1/dnc/import", "POST", None, {"body.file": binding("dnc_files")}, None),
    ("/v1/workspaces/{id}", "DELETE", None, {"path.id": binding("spare_workspaces")},
     headers(workspace, deleter_key)),
    ("/v1/workspaces/{id}", None, "DELETE", {"path.id": binding("workspaces")}, None),
    ("/v1/workspaces/{id}/members", "DELETE", None,
     {"path.id": binding("member_workspaces"), "body.email": binding("member_emails", 1.0)}, None),
    ("/v1/workspaces/{id}/members", None, "DELETE",
     {"path.id": binding("workspaces"), "body.email": binding("member_emails", 1.0)}, None),
    ("/v1/workspaces/{id}/api-key", "DELETE", None,
     {"path.id": binding("keyed_workspaces")}, None),
    ("/v1/workspaces/{id}/api-key", None, "DELETE", {"path.id": binding("workspaces")}, None),
    ("/v1/workspaces/{id}/api-key/rotate", None, None, {"path.id": binding("keyed_workspaces")}, None),
    # (Every seeded job finishes at once, so a cancel answers 409: with a
    # share of generated IDs too, a phase saw mostly 404s.)
    ("/v1/jobs/{id}", None, None, {"path.id": binding("jobs", 1.0)}, None),
    ("/v1/webhooks/{id}", "DELETE", None, {"path.id": binding("spare_webhooks", 1.0)}, None),
    ("/v1/webhooks/{id}", None, "DELETE", {"path.id": binding("webhooks")}, None),
    *[(f"/v1/webhooks/{{id}}/{action}", None, None, {"path.id": binding("webhooks")}, None)
      for action in ["rotate-secret", "test", "deliveries"]],
    ("/v1/webhooks/{id}/deliveries/{delivery_id}/resend", None, None,
     {"path.id": binding("redelivered", 1.0), "path.delivery_id": binding("deliveries")}, None),
]

with open(out, "w") as f:
    f.write("# Written by scripts/lib/contract-seed.py for one run of the contract test.\n")
    # The key in both of the headers that carry one (two different keys
    # are refused), so that a generated Authorization never stands beside it.
    f.write(headers(workspace) + "\n")
    # Every operation must be served at least once, and the server must
    # accept data the document allows.
    f.write('[warnings]\nfail-on = ["missing_test_data", "validation_mismatch"]\n\n')
    for name, items in dictionaries.items():
        f.write(f"[dictionaries.{name}]\nvalues = {values(items)}\n")
    for path, method, exclude, parameters, op_headers in operations:
        # Filters that include combine with OR: one method of one path is
        # named by its label.
        if method:
            f.write(f'\n[[operations]]\ninclude-name = "{method} {path}"\n')
        else:
            f.write(f"\n[[operations]]\ninclude-path-regex = {regex(path)}\n")
        if exclude:
            f.write(f'exclude-method = "{exclude}"\n')
        if parameters:
            pairs = ", ".join(f'"{k}" = {v}' for k, v in parameters.items())
            f.write(f"parameters = {{ {pairs} }}\n")
        if op_headers:
            f.write(op_headers + "\n")
print(f"seeded {len(campaigns) + len(completing) + len(archiving) + len(resuming) + len(spare_campaigns) + 1} "
      f"campaigns, "
      f"{len(leads) + len(spare_leads)} leads, {len(members)} campaign leads, "
      f"{len(workspaces) + len(spare_workspaces) + len(member_workspaces) + len(keyed_workspaces) + 2} "
      f"workspaces; "
      f"schemathesis configuration in {out}")
