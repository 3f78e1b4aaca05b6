-- A campaign lead's AI tag (issue 16): set by PATCH, listed by `aiTag=`.
-- Only tagged memberships are indexed, in page order.
alter table campaign_leads add column ai_tag text;
create index campaign_leads_ai_tag on campaign_leads (workspace_id, campaign_id, ai_tag, id) where ai_tag is not null;
