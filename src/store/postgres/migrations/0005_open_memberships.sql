-- A lead's open memberships (pending, active or paused), for
-- skipIfInOtherCampaign (issue 16): the test finds a lead's open
-- memberships and their campaigns in the index alone.
create index campaign_leads_open on campaign_leads (workspace_id, lead_id, campaign_id)
    where status in ('pending', 'active', 'paused');
