-- Asynchronous CSV imports (issue 17): the upload's valid rows, each the
-- lead object its row became, wait here for the job that imports them a
-- chunk at a time. The first row with an email wins (`email_key` is unique
-- within an import); a chunk's rows are deleted by the chunk that imports
-- them.
create table import_rows (
    workspace_id bigint not null,
    job_id bigint not null,
    row_no bigint not null,
    email_key text not null,
    lead jsonb not null,
    primary key (workspace_id, job_id, row_no)
);
create unique index import_rows_email on import_rows (workspace_id, job_id, email_key);
