//! What the management commands print: aligned tables for people, hookd's own JSON for
//! scripts (`--json`).

use serde_json::Value;

/// One column: its heading and the JSON field (a `/`-path for nested ones) it shows.
pub struct Column {
    pub heading: &'static str,
    pub field: &'static str,
}

pub const fn col(heading: &'static str, field: &'static str) -> Column {
    Column { heading, field }
}

/// Prints `items` as JSON, or as a table of `columns`.
pub fn list(json: bool, items: &[Value], columns: &[Column]) {
    if json {
        println!("{}", Value::Array(items.to_vec()));
        return;
    }
    let rows: Vec<Vec<String>> =
        items.iter().map(|item| columns.iter().map(|c| cell(item, c.field)).collect()).collect();
    print!("{}", table(columns, &rows));
}

/// Prints one object as JSON, or as `field: value` lines.
pub fn one(json: bool, item: &Value, columns: &[Column]) {
    if json {
        println!("{item}");
        return;
    }
    let width = columns.iter().map(|c| c.heading.len()).max().unwrap_or(0);
    for c in columns {
        println!("{:width$}  {}", c.heading, cell(item, c.field));
    }
}

/// The text of a table: a heading row, then one row per item, columns padded to their widest.
pub fn table(columns: &[Column], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.heading.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut text = line(columns.iter().map(|c| c.heading).collect());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

/// A field as text: strings bare, lists joined with commas, absent as `-`.
pub fn cell(item: &Value, field: &str) -> String {
    let value = field.split('/').fold(item, |v, key| &v[key]);
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.replace(['\n', '\t'], " "),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_and_fields_read_as_text() {
        let columns = [col("ID", "id"), col("TYPES", "filterTypes"), col("NAME", "name")];
        let rows: Vec<Vec<String>> = [
            json!({"id": "ep_1", "filterTypes": ["a", "b"], "name": "short"}),
            json!({"id": "ep_22222", "name": null}),
        ]
        .iter()
        .map(|item| columns.iter().map(|c| cell(item, c.field)).collect())
        .collect();
        assert_eq!(
            table(&columns, &rows),
            "ID        TYPES  NAME\nep_1      a,b    short\nep_22222  -      -\n"
        );
        assert_eq!(cell(&json!({"a": {"b": 3}}), "a/b"), "3");
    }
}
