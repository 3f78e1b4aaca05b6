//! The failed rows file of `leadflow import`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::failed_rows_path;

/// The failed rows, written to NAME.failed.csv as they fail (memory stays
/// flat whatever the file's size): the original columns, then the line
/// each row came from and the reason. The file is made at the first
/// failure; an existing file is never overwritten without `--force` (a new
/// name is taken instead) and a symbolic link there is never followed.
pub(super) struct FailedRows {
    path: PathBuf,
    force: bool,
    header: Vec<String>,
    out: Option<csv::Writer<std::fs::File>>,
    pub(super) count: u64,
    error: Option<anyhow::Error>,
}

impl FailedRows {
    pub(super) fn new(input: &Path, header: &[String], force: bool) -> Self {
        Self {
            path: failed_rows_path(input),
            force,
            header: header.to_vec(),
            out: None,
            count: 0,
            error: None,
        }
    }

    pub(super) fn push(&mut self, line: u64, mut cells: Vec<String>, reason: &str) {
        self.count += 1;
        if self.error.is_some() {
            return;
        }
        cells.resize(self.header.len().max(cells.len()), String::new());
        cells.push(line.to_string());
        cells.push(reason.to_owned());
        if let Err(e) = self.write(&cells) {
            self.error = Some(e);
        }
    }

    fn write(&mut self, cells: &[String]) -> anyhow::Result<()> {
        if self.out.is_none() {
            let (path, file) = create_new_file(&self.path, self.force)?;
            self.path = path;
            let mut out = csv::Writer::from_writer(file);
            let mut head = self.header.clone();
            head.extend(["line".to_owned(), "error".to_owned()]);
            out.write_record(head.iter().map(|c| neutralized(c).into_owned()))?;
            self.out = Some(out);
        }
        if let Some(out) = self.out.as_mut() {
            out.write_record(cells.iter().map(|c| neutralized(c).into_owned()))?;
        }
        Ok(())
    }

    /// The file written, if any row failed.
    pub(super) fn finish(self) -> anyhow::Result<Option<PathBuf>> {
        if let Some(e) = self.error {
            return Err(e.context(format!("cannot write {}", self.path.display())));
        }
        match self.out {
            Some(mut out) => {
                out.flush()
                    .with_context(|| format!("cannot write {}", self.path.display()))?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }
}

/// Creates `path`, or with an existing file there (and no `force`) the
/// first free `NAME-2.csv`, `NAME-3.csv`, …; never through a symbolic link:
/// creation fails on anything already there, a link included, and `force`
/// removes the link itself, not what it points to.
fn create_new_file(path: &Path, force: bool) -> anyhow::Result<(PathBuf, std::fs::File)> {
    let create = |p: &Path| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p)
    };
    if force && std::fs::symlink_metadata(path).is_ok() {
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("import");
    for n in 1..1000 {
        let candidate = if n == 1 {
            path.to_path_buf()
        } else {
            path.with_file_name(format!("{stem}-{n}.csv"))
        };
        match create(&candidate) {
            Ok(file) => return Ok((candidate, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("cannot create {}", candidate.display()));
            }
        }
    }
    bail!("cannot find a free name beside {}", path.display())
}

/// A cell a spreadsheet would run as a formula (it starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) gets a leading `'`, which keeps it
/// text.
fn neutralized(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}
