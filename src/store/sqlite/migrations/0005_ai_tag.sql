-- A campaign lead's AI tag (issue 16): set by PATCH, listed by `aiTag=`.
-- Only tagged memberships are indexed; the index ends in the row id, so a
-- campaign's members with one tag come in page order.
alter table campaign_leads add column ai_tag text;
create index campaign_leads_ai_tag on campaign_leads (campaign_id, ai_tag) where ai_tag is not null;
