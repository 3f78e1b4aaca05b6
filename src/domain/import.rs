//! CSV imports: which column goes to which lead field, and how a row
//! becomes a lead object. The server's import endpoint and the `import`
//! client command share it, so a file maps the same way through both.

use serde_json::{Map, Value};

use super::lead::TEXT_FIELDS;

/// At most this many data rows per file.
pub const MAX_ROWS: usize = 50_000;
/// At most this many bytes per file.
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// At most this many data rows per file imported as a background job
/// (`async=true`).
pub const MAX_ASYNC_ROWS: usize = 1_000_000;
/// At most this many bytes per file imported as a background job.
pub const MAX_ASYNC_FILE_BYTES: usize = 500 * 1024 * 1024;
/// The largest import request: the file, the form's other parts and the
/// multipart framing.
pub const MAX_REQUEST_BYTES: usize = MAX_ASYNC_FILE_BYTES + 1024 * 1024;

/// A lead field a column can feed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Email,
    /// Index into [`TEXT_FIELDS`].
    Text(usize),
    /// One or more tags, separated by `;` or `,`.
    Tags,
    EmailVerificationResult,
    /// `customFields.NAME`.
    Custom(String),
}

impl Field {
    /// A field by its API name: `email`, `firstName`, …, `tags`,
    /// `emailVerificationResult` or `customFields.NAME`.
    pub fn parse(name: &str) -> Result<Field, String> {
        let name = name.trim();
        if let Some(custom) = name.strip_prefix("customFields.") {
            let len = custom.chars().count();
            if len == 0 || len > super::lead::MAX_CUSTOM_KEY {
                return Err(format!(
                    "'{name}': a custom field name must be 1 to {} characters",
                    super::lead::MAX_CUSTOM_KEY
                ));
            }
            return Ok(Field::Custom(custom.to_owned()));
        }
        match name {
            "email" => Ok(Field::Email),
            "tags" => Ok(Field::Tags),
            "emailVerificationResult" => Ok(Field::EmailVerificationResult),
            _ => TEXT_FIELDS
                .iter()
                .position(|(n, _)| *n == name)
                .map(Field::Text)
                .ok_or_else(|| {
                    format!(
                        "'{name}' is not a lead field (use email, {}, tags, \
                         emailVerificationResult or customFields.NAME)",
                        TEXT_FIELDS.map(|(n, _)| n).join(", ")
                    )
                }),
        }
    }

    /// The field a common header name stands for (`Email`, `E-mail
    /// Address`, `First Name`, `Company`, `Title`, …), if any.
    pub fn guess(header: &str) -> Option<Field> {
        let norm: String = header
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        let text = |name: &str| TEXT_FIELDS.iter().position(|(n, _)| *n == name);
        let field = match norm.as_str() {
            "email" | "emailaddress" | "mail" | "workemail" | "businessemail" => Field::Email,
            "firstname" | "first" | "givenname" | "fname" => Field::Text(text("firstName")?),
            "lastname" | "last" | "surname" | "familyname" | "lname" => {
                Field::Text(text("lastName")?)
            }
            "company" | "companyname" | "organization" | "organisation" | "account"
            | "accountname" => Field::Text(text("companyName")?),
            "jobtitle" | "title" | "position" => Field::Text(text("jobTitle")?),
            "phone" | "phonenumber" | "mobile" | "mobilephone" | "telephone" => {
                Field::Text(text("phone")?)
            }
            "linkedin" | "linkedinurl" | "linkedinprofile" | "linkedinprofileurl" => {
                Field::Text(text("linkedinUrl")?)
            }
            "city" | "town" => Field::Text(text("city")?),
            "state" | "region" | "province" => Field::Text(text("state")?),
            "country" | "countrycode" => Field::Text(text("country")?),
            "tags" | "tag" => Field::Tags,
            "emailverificationresult" => Field::EmailVerificationResult,
            _ => return None,
        };
        Some(field)
    }

    /// The API name, as a mapping would write it.
    pub fn name(&self) -> String {
        match self {
            Field::Email => "email".into(),
            Field::Text(i) => TEXT_FIELDS[*i].0.into(),
            Field::Tags => "tags".into(),
            Field::EmailVerificationResult => "emailVerificationResult".into(),
            Field::Custom(name) => format!("customFields.{name}"),
        }
    }
}

/// The separators a CSV file may use: spreadsheet programs write `;` in
/// many locales, and tab-separated and `|`-separated files are common too.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The separator of a CSV file, read from its header line: the one of
/// [`DELIMITERS`] that appears most often outside quotes (a comma when
/// none does, or on a tie with it).
pub fn detect_delimiter(header_line: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for &b in header_line {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|d| *d == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..DELIMITERS.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    DELIMITERS[best]
}

/// How a delimiter is shown to people: `,` `;` `|`, and `tab`.
pub fn delimiter_name(d: u8) -> String {
    if d == b'\t' {
        "tab".to_owned()
    } else {
        char::from(d).to_string()
    }
}

/// Which column feeds which field, resolved against a file's header.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    columns: Vec<(usize, Field)>,
}

impl Mapping {
    /// Resolves `given` (column name → field name; an empty or null field
    /// skips the column) against the header. Without `given`, every column
    /// whose name [`Field::guess`] recognises is mapped. With `given`,
    /// `guess_rest` also maps the recognised columns it does not mention.
    /// Errors name the problem: an unknown column or field, a field fed by
    /// two columns, no email column.
    pub fn resolve(
        header: &[String],
        given: Option<&[(String, Option<String>)]>,
        guess_rest: bool,
    ) -> Result<Mapping, String> {
        let mut columns: Vec<(usize, Field)> = Vec::new();
        let mut mentioned = vec![false; header.len()];
        for (column, field) in given.unwrap_or_default() {
            let index = find_column(header, column)?;
            mentioned[index] = true;
            let Some(field) = field.as_deref().filter(|f| !f.trim().is_empty()) else {
                continue;
            };
            let field = Field::parse(field).map_err(|e| format!("mapping: {e}"))?;
            columns.push((index, field));
        }
        if given.is_none() || guess_rest {
            for (index, name) in header.iter().enumerate() {
                if mentioned[index] {
                    continue;
                }
                if let Some(field) = Field::guess(name)
                    && !columns.iter().any(|(_, f)| *f == field)
                {
                    columns.push((index, field));
                }
            }
        }
        for (i, (_, field)) in columns.iter().enumerate() {
            if columns[..i].iter().any(|(_, f)| f == field) {
                return Err(format!(
                    "mapping: more than one column is mapped to {}",
                    field.name()
                ));
            }
        }
        if !columns.iter().any(|(_, f)| *f == Field::Email) {
            return Err(if given.is_some() {
                "mapping: no column is mapped to email".to_owned()
            } else {
                format!(
                    "The file has no email column (its columns: {}); name one in mapping, \
                     e.g. {{\"Work Email\": \"email\"}}",
                    header.join(", ")
                )
            });
        }
        columns.sort_by_key(|(i, _)| *i);
        Ok(Mapping { columns })
    }

    /// (column index, field) pairs in column order.
    pub fn columns(&self) -> &[(usize, Field)] {
        &self.columns
    }

    /// The lead object a row stands for, in the shape `POST /v1/leads`
    /// takes. Empty cells are left out, so they never overwrite a stored
    /// value.
    pub fn lead(&self, row: &[&str]) -> Value {
        let mut obj = Map::new();
        let mut custom = Map::new();
        for (index, field) in &self.columns {
            let cell = row.get(*index).map_or("", |c| c.trim());
            if cell.is_empty() {
                continue;
            }
            match field {
                Field::Custom(name) => {
                    custom.insert(name.clone(), Value::from(cell));
                }
                Field::Tags => {
                    let tags: Vec<Value> = cell
                        .split([';', ','])
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(Value::from)
                        .collect();
                    obj.insert("tags".into(), Value::Array(tags));
                }
                other => {
                    obj.insert(other.name(), Value::from(cell));
                }
            }
        }
        if !custom.is_empty() {
            obj.insert("customFields".into(), Value::Object(custom));
        }
        Value::Object(obj)
    }

    /// The email cell of a row, for error reports.
    pub fn email<'a>(&self, row: &[&'a str]) -> Option<&'a str> {
        self.columns
            .iter()
            .find(|(_, f)| *f == Field::Email)
            .and_then(|(i, _)| row.get(*i).copied())
            .map(str::trim)
    }
}

/// A column by its header name: exact first, then ignoring case and
/// surrounding spaces. Two columns with one name are ambiguous.
fn find_column(header: &[String], name: &str) -> Result<usize, String> {
    let exact: Vec<usize> = (0..header.len()).filter(|&i| header[i] == name).collect();
    let matches = if exact.is_empty() {
        (0..header.len())
            .filter(|&i| header[i].trim().eq_ignore_ascii_case(name.trim()))
            .collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "mapping: the file has no column '{name}' (its columns: {})",
            header.join(", ")
        )),
        _ => Err(format!(
            "mapping: the file has more than one column named '{name}'"
        )),
    }
}

/// Parses the `mapping` form field: a JSON object of column name → field
/// name (or null to skip the column).
pub fn parse_mapping(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("mapping must be a JSON object of CSV column → lead field: {e}"))?;
    let obj = value
        .as_object()
        .ok_or("mapping must be a JSON object of CSV column → lead field")?;
    obj.iter()
        .map(|(column, field)| match field {
            Value::String(s) => Ok((column.clone(), Some(s.clone()))),
            Value::Null => Ok((column.clone(), None)),
            _ => Err(format!(
                "mapping: the field for column '{column}' must be a string or null"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_delimiter_is_read_from_the_header_line() {
        assert_eq!(detect_delimiter(b"Email;First Name;Company\r\na,b;c"), b';');
        assert_eq!(detect_delimiter(b"email\tfirstName\n"), b'\t');
        assert_eq!(detect_delimiter(b"email|name|x,y"), b'|');
        assert_eq!(detect_delimiter(b"email,name"), b',');
        assert_eq!(detect_delimiter(b"email"), b',');
        // Inside quotes a separator is text.
        assert_eq!(detect_delimiter(b"\"a;b;c\",email"), b',');
        assert_eq!(delimiter_name(b'\t'), "tab");
    }

    #[test]
    fn common_headers_are_recognised() {
        let h = header(&["E-mail Address", "First Name", "Company", "Notes", "Title"]);
        let m = Mapping::resolve(&h, None, false).unwrap();
        let names: Vec<String> = m.columns().iter().map(|(_, f)| f.name()).collect();
        assert_eq!(names, ["email", "firstName", "companyName", "jobTitle"]);
        assert_eq!(
            m.lead(&["a@b.co", " Ann ", "", "x", "CEO"]),
            json!({"email": "a@b.co", "firstName": "Ann", "jobTitle": "CEO"})
        );
    }

    #[test]
    fn a_given_mapping_is_used_as_written() {
        let h = header(&["mail", "Notes", "labels"]);
        let given =
            parse_mapping(r#"{"mail": "email", "notes": "customFields.notes", "labels": "tags"}"#)
                .unwrap();
        let m = Mapping::resolve(&h, Some(&given), false).unwrap();
        assert_eq!(
            m.lead(&["a@b.co", "hi", "x; y,z"]),
            json!({"email": "a@b.co", "tags": ["x", "y", "z"], "customFields": {"notes": "hi"}})
        );
        assert_eq!(m.email(&[" a@b.co ", "", ""]), Some("a@b.co"));
    }

    #[test]
    fn guess_rest_fills_in_and_null_skips() {
        let h = header(&["Email", "First Name", "Company"]);
        let given = vec![("Company".to_string(), None)];
        let m = Mapping::resolve(&h, Some(&given), true).unwrap();
        let names: Vec<String> = m.columns().iter().map(|(_, f)| f.name()).collect();
        assert_eq!(names, ["email", "firstName"]);
    }

    #[test]
    fn mapping_errors_name_the_problem() {
        let h = header(&["Email", "Name", "Name2"]);
        let err = |given: &str| {
            Mapping::resolve(&h, Some(&parse_mapping(given).unwrap()), false).unwrap_err()
        };
        assert!(err(r#"{"Email": "email", "Name": "nickname"}"#).contains("'nickname'"));
        assert!(err(r#"{"Email": "email", "Missing": "firstName"}"#).contains("'Missing'"));
        assert!(err(r#"{"Name": "firstName"}"#).contains("no column is mapped to email"));
        assert!(err(r#"{"Email": "email", "Name": "email"}"#).contains("more than one"));
        assert!(err(r#"{"Email": "email", "Name": "customFields."}"#).contains("custom field"));
        let none = Mapping::resolve(&header(&["Name", "Phone"]), None, false).unwrap_err();
        assert!(none.contains("no email column"), "{none}");
        assert!(parse_mapping("[1]").is_err());
        assert!(parse_mapping(r#"{"a": 1}"#).is_err());
    }
}
